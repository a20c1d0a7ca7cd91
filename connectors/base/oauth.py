"""The OAuth 2.0 flow every exchange shares, built on django-allauth's provider framework.

An exchange package subclasses ``ExchangeProvider`` and ``ExchangeOAuth2Adapter`` and states its
differences as class attributes (paths, scope delimiter, client authentication, PKCE, whether the
redirect URI may be encoded) plus a few small hooks. Everything a tenant configures (client id and
secret, base URLs, registered redirect URIs, permissions) arrives as ``SocialApp.settings`` built from
its encrypted ``ExchangeCredential`` and is read before any class default.
"""

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import requests
from allauth.socialaccount.providers.oauth2.client import OAuth2Client, OAuth2Error
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider
from allauth.socialaccount.providers.oauth2.views import OAuth2Adapter
from django.utils import timezone

from connectors.exchanges import EXCHANGES, Exchange

from .http import exchange_session


class ExchangeOAuth2Client(OAuth2Client):
    """allauth's client, with scopes in a stable order and, where an exchange asks, an unencoded redirect URI."""

    encode_redirect_uri = True

    def get_redirect_url(self, authorization_url, scope, extra_params) -> str:
        params = {
            self.client_id_parameter: self.consumer_key,
            "response_type": "code",
            "scope": self.scope_delimiter.join(dict.fromkeys(scope)),
            "state": self.state,
            **extra_params,
        }
        query = urlencode({k: v for k, v in params.items() if v})
        if self.encode_redirect_uri:
            return f"{authorization_url}?{query}&{urlencode({'redirect_uri': self.callback_url})}"
        # KuCoin: "please don't encode the redirect URL".
        return f"{authorization_url}?{query}&redirect_uri={self.callback_url}"


class ExchangeOAuth2Adapter(OAuth2Adapter):
    # Paths under the credential's base URLs; the exchange's own, so only a base URL tells sandbox from production.
    authorize_path: str | None = None
    token_path: str | None = None
    refresh_path: str | None = None  # where it differs from token_path
    revoke_path: str | None = None
    # Whether the revocation endpoint acts only on a valid access token presented as Authorization: Bearer
    # (Doorkeeper 1.4's TokensController#revoke) rather than on the client's credentials (RFC 7009).
    revoke_with_bearer = False
    # Client authentication at the token endpoint: HTTP Basic, or client_id and client_secret in the body.
    basic_auth = False
    # How the token endpoint takes its parameters: "POST" with a "form" (RFC 6749) or "json" body, or "GET"
    # with them in the query string (KuCoin's access-token call). A GET that spends a code is never retried.
    access_token_method = "POST"
    # The refresh call's method where it differs (KuCoin: the code is exchanged by GET, the refresh is a POST).
    refresh_token_method: str | None = None
    token_request_format = "form"
    # Whether the code exchange repeats the redirect_uri (RFC 6749 4.1.3); OKX's JSON body has no such field.
    redirect_uri_in_token_request = True
    # The credential's setting whose URL the token, refresh and revoke paths sit under.
    token_base_setting = "api_base_url"
    # Whether the client secret goes with the token requests of a client that sends its credentials in the
    # body (hook: KuCoin's documented access-token call names client_id only).
    sends_client_secret = True
    scope_delimiter = " "
    encode_redirect_uri = True
    # Lifetimes the exchange documents, for responses that leave one out.
    default_access_lifetime = timedelta(hours=1)
    refresh_lifetime: timedelta | None = None
    supports_state = True

    def __init__(self, request, provider=None):
        super().__init__(request)
        self._provider = provider
        # Per-installation settings are read before the class defaults, so an authorization server that
        # follows RFC 6749/7636 can be described entirely by data (see connectors/oauth2).
        settings = self.settings
        if "client_auth" in settings:
            self.basic_auth = settings["client_auth"] == "basic"
        for name in (
            "scope_delimiter",
            "encode_redirect_uri",
            "authorize_path",
            "token_path",
            "refresh_path",
            "revoke_path",
        ):
            if name in settings:
                setattr(self, name, settings[name])

    def get_provider(self):
        return self._provider or super().get_provider()

    @property
    def settings(self) -> dict:
        return self.get_provider().app.settings

    def _url(self, full_url_setting: str, base_setting: str, path: str | None) -> str | None:
        if self.settings.get(full_url_setting):
            return self.settings[full_url_setting]
        return self.settings[base_setting].rstrip("/") + path if path else None

    @property
    def authorize_url(self) -> str:
        return self._url("authorize_url", "authorize_base_url", self.authorize_path)

    @property
    def access_token_url(self) -> str:
        return self._url("token_url", self.token_base_setting, self.token_path)

    @property
    def refresh_token_url(self) -> str:
        return self._url("refresh_url", self.token_base_setting, self.refresh_path) or self.access_token_url

    @property
    def revoke_url(self) -> str | None:
        return self._url("revoke_url", self.token_base_setting, self.revoke_path)

    def connection_url(self, url: str | None, details: dict) -> str | None:
        """Where a call for one connection goes, given the facts its flow or row holds (hook): ``url`` itself,
        except where the exchange names a host per user (OKX's regional ``domain``)."""
        return url

    def allowed_base_urls(self, app) -> list[str]:
        """The only places this exchange's client credentials and tokens may be sent (hook)."""
        return allowed_urls(app)

    def sends_secret(self) -> bool:
        return self.sends_client_secret

    def get_callback_url(self, request, app):
        return redirect_uri_for(request, app.settings["redirect_uris"])

    client_class = ExchangeOAuth2Client

    def get_client(self, request, app):
        client = super().get_client(request, app)
        client.encode_redirect_uri = self.encode_redirect_uri
        return client

    def token_request_extras(self) -> dict:
        """Extra form fields the token endpoint wants (hook)."""
        return {}

    def refresh_request_data(self, refresh_token: str, permissions: list[str]) -> dict:
        return {"grant_type": "refresh_token", "refresh_token": refresh_token}

    def parse_token_response(self, data: dict) -> "TokenSet":
        return TokenSet.from_response(
            data, default_access=self.default_access_lifetime, refresh_lifetime=self.refresh_lifetime
        )


class TokenSet:
    """What a token endpoint answered, with absolute expiry times."""

    def __init__(self, access_token, refresh_token, access_expires_at, refresh_expires_at, scope, raw):
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.access_expires_at = access_expires_at
        self.refresh_expires_at = refresh_expires_at
        self.scope = scope
        self.raw = raw

    @classmethod
    def from_response(cls, data: dict, *, default_access: timedelta, refresh_lifetime: timedelta | None):
        """The token response read defensively: a field of the wrong kind is the exchange's error (OAuth2Error),
        never ours."""
        now = timezone.now()
        access_token, refresh_token = data.get("access_token"), data.get("refresh_token") or ""
        if not isinstance(access_token, str) or not access_token:
            raise OAuth2Error("The exchange's token response has no usable access_token.")
        if not isinstance(refresh_token, str):
            raise OAuth2Error("The exchange's token response has a refresh_token that is not a string.")
        scope = data.get("scope") or []
        if isinstance(scope, str):
            scope = scope.replace("+", " ").replace(",", " ").split()
        if not isinstance(scope, list):
            raise OAuth2Error("The exchange's token response has a scope that is neither a string nor a list.")
        return cls(
            access_token=access_token,
            refresh_token=refresh_token,
            access_expires_at=expiry_after(now, data.get("expires_in"), default_access),
            refresh_expires_at=now + refresh_lifetime if refresh_lifetime and refresh_token else None,
            scope=[str(item) for item in scope],
            raw=data,
        )


def expiry_after(now, expires_in, default: timedelta):
    """When a token given ``expires_in`` seconds (RFC 6749: a number; some send it as a numeric string) runs out;
    the default where it is left out or 0."""
    if expires_in in (None, "", 0, "0"):
        return now + default
    try:
        if isinstance(expires_in, bool):
            raise TypeError
        seconds = float(expires_in)
        if not seconds > 0:  # negative, or NaN
            raise ValueError
        return now + timedelta(seconds=seconds)
    except (TypeError, ValueError, OverflowError):
        raise OAuth2Error(
            f"The exchange's token response has an expires_in that is not a lifetime in seconds: "
            f"{str(expires_in)[:40]!r}."
        )


def redirect_uri_for(request, registered: list[str]) -> str:
    """One of the exactly registered redirect URIs, never one built from the Host header.

    The session that holds the OAuth state lives on the host the flow started at, so among the registered
    URIs the one on that host is taken (the host was already matched to this tenant)."""
    if not registered:
        raise OAuth2Error("No redirect URI is registered for this exchange.")
    host = request.get_host().lower()
    for uri in registered:
        if urlsplit(uri).netloc.lower() == host:
            return uri
    return registered[0]


class ExchangeProvider(OAuth2Provider):
    """An exchange as an allauth provider. Subclasses set ``id``, ``name`` and ``oauth2_adapter_class``."""

    exchange_id: str
    api_class: type  # the exchange's ExchangeAPI
    # Scopes asked for whatever the user picks (e.g. OKX's fast_api).
    fixed_scopes: tuple[str, ...] = ()
    pkce_enabled_default = False
    # PKCE where the client is public and the exchange takes it.
    pkce_for_public_clients = False
    # Where the exchange takes only confidential clients (OKX Fast API: authorization code with the client secret),
    # a credential set up as a public client is refused at configuration and at connect.
    confidential_clients_only = False

    def configuration_problem(self) -> str:
        """Why this tenant's credential cannot connect as configured, for the broker admin ("" where it can)."""
        if self.confidential_clients_only and self.app.settings.get("client_type") == "public":
            return (
                f"{self.name} takes only confidential clients (authorization code with the client secret): "
                f"set the {self.name} credential's client type to confidential and enter its client secret."
            )
        return ""

    # Whether a second authorization of an account the user has connected and working is refused, rather than
    # taken as a reconnect (the generic provider: nothing at the server needs renewing by it).
    refuses_second_connection_of_account = False
    # Whether a tenant may have several servers of this exchange, each a credential with its own server slug.
    several_servers = False

    # What the permission page tells the user about the exchange's own consent page (hook), "" for nothing.
    consent_hint = ""

    @property
    def exchange(self) -> Exchange:
        return EXCHANGES[self.exchange_id]

    @classmethod
    def get_package(cls):
        return cls.__module__.rsplit(".", 1)[0]

    def get_oauth2_adapter(self, request):
        return self.oauth2_adapter_class(request, provider=self)

    def offered_permissions(self) -> list:
        """What the permission page offers: the exchange's permissions this tenant allows."""
        allowed = set(self.app.settings["allowed_permissions"])
        return [permission for permission in self.exchange.permissions if permission.code in allowed]

    def get_default_scope(self):
        return list(self.app.settings.get("default_permissions") or self.exchange.default_permissions)

    def scope_for(self, permissions: list[str]) -> list[str]:
        """The authorize request's scope for the permissions the user chose (hook)."""
        return [*self.fixed_scopes, *permissions]

    def granted_permissions(self, token: TokenSet, requested: list[str]) -> list[str]:
        """What the connection may use: what the user chose here, narrowed to what the exchange's token
        reports as granted where it reports a scope (hook)."""
        if token.scope:
            return [permission for permission in requested if permission in token.scope]
        return list(requested)

    def get_pkce_params(self) -> dict:
        enabled = self.app.settings.get("pkce")
        if enabled is None:
            enabled = self.pkce_enabled_default or (
                self.pkce_for_public_clients and self.app.settings.get("client_type") == "public"
            )
        if not enabled:
            return {}
        from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge

        return generate_code_challenge()

    # A connect flow's scope and parameters come only from server-side configuration and the
    # permission form, never from the request's query string.
    def get_scope_from_request(self, request):
        return self.get_scope()

    def get_auth_params_from_request(self, request, action):
        return self.get_auth_params()

    def flow_data(self) -> dict:
        """Extra, non-secret facts a flow carries in its state from start to callback (hook)."""
        return {}

    def token_headers(self, flow_data: dict) -> dict:
        """Headers the token endpoint needs beyond client authentication (hook)."""
        return {}

    def flow_data_from_callback(self, callback_params) -> dict:
        """Facts the callback adds to the flow's data before the code is exchanged, validated (hook): OKX's
        regional host. Raises HostNotAllowed for a host the portal may not send anything to."""
        return {}

    def key_permissions(self, api_key, granted: list[str]) -> list[str]:
        """What the connection may use once its Fast API key exists (hook): what was granted, unless the
        exchange's answer to the key request tells the key's own permissions (KuCoin's authGroup)."""
        return list(granted)

    def connection_details(self, callback_params, token: TokenSet, flow_data: dict) -> dict:
        """Non-secret facts from the callback, token response or flow worth keeping (hook)."""
        return {}

    def extract_uid(self, data):
        return ""


def with_client_auth(adapter: ExchangeOAuth2Adapter, app, data: dict):
    """The form data and auth for a call to the authorization server, by the exchange's client authentication."""
    data = dict(data)
    # A public client has no secret to send, even if one was stored (Kraken: "<client ID>:"): the exchange
    # refuses a public client that presents one.
    secret = "" if app.settings.get("client_type") == "public" else app.secret or ""
    if adapter.basic_auth:
        return data, requests.auth.HTTPBasicAuth(app.client_id, secret)
    data["client_id"] = app.client_id
    if secret and adapter.sends_secret():
        data["client_secret"] = secret
    return data, None


def post_token_request(adapter: ExchangeOAuth2Adapter, app, url: str, data: dict, headers=None) -> TokenSet:
    """Call a token endpoint the way the exchange takes it (``access_token_method``, ``token_request_format``)
    with its client authentication; errors become OAuth2Error."""
    data, auth = with_client_auth(adapter, app, data)
    method = (adapter.refresh_token_method if "refresh_token" in data else None) or adapter.access_token_method
    with exchange_session(
        allowed_base_urls=adapter.allowed_base_urls(app), hosts=app.settings.get("call_hosts")
    ) as session:
        if method == "GET":
            # Sent once: reads are retried, and a repeated code exchange would be refused as a replay.
            response = session.request(
                "GET",
                with_query(url, data, encode_redirect_uri=adapter.encode_redirect_uri),
                auth=auth,
                headers=headers or {},
                retry=False,
            )
        elif adapter.token_request_format == "json":
            response = session.post(url, json=data, auth=auth, headers=headers or {})
        else:
            response = session.post(url, data=data, auth=auth, headers=headers or {})
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):  # a bare list or string is no token response
        payload = {}
    if response.status_code != 200 or "access_token" not in payload:
        raise OAuth2Error(token_error_message(response.status_code, payload))
    return adapter.parse_token_response(payload)


def with_query(url: str, data: dict, *, encode_redirect_uri: bool) -> str:
    """A GET token request's URL; where the exchange asks, its redirect_uri is appended unencoded (KuCoin)."""
    params = {key: value for key, value in data.items() if encode_redirect_uri or key != "redirect_uri"}
    query = urlencode(params)
    if not encode_redirect_uri and "redirect_uri" in data:
        query += f"&redirect_uri={data['redirect_uri']}"
    return f"{url}?{query}"


def revoke_token(
    adapter: ExchangeOAuth2Adapter, app, token: str, details: dict | None = None, *, access_token: str = ""
) -> bool:
    """RFC 7009 revocation where the exchange has it: whether it answered 200; False where it has none.
    Where the endpoint acts only on a presented access token (``revoke_with_bearer``), ``access_token`` goes
    as Authorization: Bearer."""
    url = adapter.connection_url(adapter.revoke_url, details or {})
    if not url or not token:
        return False
    data, auth = with_client_auth(adapter, app, {"token": token})
    headers = {}
    if adapter.revoke_with_bearer:
        if not access_token:
            return False
        headers, auth = {"Authorization": f"Bearer {access_token}"}, None
    with exchange_session(
        allowed_base_urls=adapter.allowed_base_urls(app), hosts=app.settings.get("call_hosts")
    ) as session:
        return session.post(url, data=data, auth=auth, headers=headers).status_code == 200


def allowed_urls(app) -> list[str]:
    """The hosts the tenant configured for this exchange: the only ones its credentials may be sent to."""
    settings = app.settings
    return [
        url
        for url in (
            settings.get("api_base_url"),
            settings.get("token_url"),
            settings.get("refresh_url"),
            settings.get("revoke_url"),
        )
        if url
    ]


def token_error_message(status: int, payload: dict) -> str:
    error = payload.get("error") or payload.get("code") or f"HTTP {status}"
    if isinstance(error, dict):  # Peatio: {"error": {"code": …, "message": …}}
        return f"{error.get('code')}: {error.get('message', '')}"
    description = payload.get("error_description") or payload.get("msg") or ""
    return f"{error}: {description}".strip(": ")
