"""OAuth 2.0 rules shared by the four exchanges: clients, codes, token pairs, rotation and revocation."""

import base64
import hashlib
import secrets
import string
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote, urlencode

from django.db import transaction

from . import clock
from .exchanges import KUCOIN_AUTH_GROUPS, KUCOIN_DEFAULT_GROUPS, KUCOIN_GROUP_NAMES, PROFILES, ExchangeProfile
from .models import AuthorizationCode, Client, SandboxUser, Token


class OAuthError(Exception):
    """An RFC 6749 error; ``code`` carries an exchange's own number where it has one (OKX 53xxx)."""

    def __init__(self, error: str, description: str, status: int = 400, code: str = ""):
        super().__init__(description)
        self.error, self.description, self.status, self.code = error, description, status, code


class AuthorizePageError(Exception):
    """A bad authorization request that must not be redirected anywhere: shown as an error page."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.message, self.code = message, code


class AuthorizeRedirectError(Exception):
    """A bad authorization request from a known client to its registered redirect URI, which the exchange
    answers by redirecting there with ``error`` and ``state`` (RFC 6749 4.1.2.1)."""

    def __init__(self, redirect_uri: str, error: str, state: str | None):
        super().__init__(error)
        self.redirect_uri, self.error, self.state = redirect_uri, error, state


def random_token(length: int = 40, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def with_params(uri: str, params: dict) -> str:
    """The redirect URI with parameters added, keeping any query it already has."""
    separator = "&" if "?" in uri else "?"
    return uri + separator + urlencode({key: value for key, value in params.items() if value is not None})


@dataclass
class AuthorizeRequest:
    profile: ExchangeProfile
    client: Client
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str = ""
    code_challenge_method: str = ""
    choices: list[dict] = field(default_factory=list)


KUCOIN_LOGIN_PARAMETERS = ("response_type", "client_id", "scope", "state")


def kucoin_raw_redirect_uri(raw_query: str, names: tuple[str, ...] = KUCOIN_LOGIN_PARAMETERS) -> str | None:
    """KuCoin's login and access-token URLs carry redirect_uri unencoded, so a redirect URI with its own query
    string spills into the outer one. Take everything from ``redirect_uri=`` up to the next parameter KuCoin
    knows (``names``)."""
    marker = "redirect_uri="
    start = raw_query.find(marker)
    if start < 0:
        return None
    rest = raw_query[start + len(marker) :]
    end = len(rest)
    for name in names:
        position = rest.find(f"&{name}=")
        if 0 <= position < end:
            end = position
    return rest[:end]


def parse_authorize_request(exchange: str, params, raw_query: str) -> AuthorizeRequest:
    profile = PROFILES[exchange]
    client = Client.objects.filter(exchange=exchange, client_id=params.get("client_id", "")).first()
    if client is None:
        raise AuthorizePageError("Unknown client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if exchange == "kucoin":
        raw = kucoin_raw_redirect_uri(raw_query) or ""
        if raw != unquote(raw):
            raise AuthorizePageError("redirect_uri must be sent unencoded (please don't encode the redirect URL).")
        redirect_uri = raw
    if redirect_uri not in client.redirect_uris:
        raise AuthorizePageError("redirect_uri is not registered for this client.", code="53016")
    state = params.get("state")
    if params.get("response_type") != "code":
        if profile.authorize_errors_redirect:
            raise AuthorizeRedirectError(redirect_uri, "unsupported_response_type", state)
        raise AuthorizePageError("response_type must be code.")
    if profile.state_required and not state:
        raise AuthorizePageError("state is mandatory.")
    if exchange == "kucoin" and not params.get("scope"):
        raise AuthorizePageError("scope is required (scope=OAUTH_CREATE_API).")  # section 7.1: Scope compulsory
    requested = profile.split_scope(params.get("scope", "")) or list(profile.default_scopes)
    if not requested and profile.empty_scope_is_registered:
        requested = [scope for scope in client.permissions if scope in profile.known_scopes]
    if not requested:
        raise AuthorizePageError("scope is required.")
    allowed = set(client.permissions) | set(profile.default_scopes)
    unknown = [scope for scope in requested if scope not in profile.known_scopes or scope not in allowed]
    if unknown:
        if profile.authorize_errors_redirect:
            raise AuthorizeRedirectError(redirect_uri, "invalid_scope", state)
        raise AuthorizePageError(f"invalid_scope: {' '.join(unknown)} not allowed for this client.")
    missing = [scope for scope in profile.required_scopes if scope not in requested]
    if missing:
        raise AuthorizePageError(f"scope must include {' '.join(missing)}.")
    for name, value in profile.required_authorize_params:
        if params.get(name) != value:
            raise AuthorizePageError(f"{name} must be {value}.")
    if client.is_public and not profile.public_clients_allowed:
        raise AuthorizePageError("This exchange takes only confidential clients (authorization code mode).")
    challenge = params.get("code_challenge", "")
    method = params.get("code_challenge_method", "")
    if (challenge or method) and not profile.pkce_allowed:
        raise AuthorizePageError("PKCE is not supported here: authorization code mode only.")
    if challenge and method != "S256":
        raise AuthorizePageError("code_challenge_method must be S256.")
    if client.is_public and profile.pkce_required_for_public and not challenge:
        raise AuthorizePageError("A public client must use PKCE (code_challenge with S256).")
    request = AuthorizeRequest(profile, client, redirect_uri, requested, state, challenge, method if challenge else "")
    request.choices = consent_choices(request)
    return request


def consent_choices(request: AuthorizeRequest) -> list[dict]:
    """What the consent page lets the user tick. KuCoin offers its authGroupMap items, ticked as its own defaults
    say: its login carries only scope=OAUTH_CREATE_API, nothing of the broker's choice (Fast API document 7.1:
    "the broker should independently guide users to select and authorize the withdrawal permission"). The others
    offer exactly the requested scopes, each ticked: what the authorize request asked for (RFC 6749 3.3; Kraken's
    openapi_v3.yaml Scope, Peatio's oauth.en.html.slim "scope is the authorizations you want to request")."""
    if request.profile.name == "kucoin":
        allowed = set(request.client.permissions) | set(request.scopes)
        return [
            {"value": group, "label": KUCOIN_GROUP_NAMES[group], "checked": group in KUCOIN_DEFAULT_GROUPS}
            for group in KUCOIN_AUTH_GROUPS
            if group in allowed
        ]
    return [{"value": scope, "label": scope, "checked": True} for scope in request.scopes]


def granted_scopes(request: AuthorizeRequest, ticked: list[str]) -> list[str]:
    offered = [choice["value"] for choice in request.choices]
    granted = [value for value in offered if value in ticked]
    if request.profile.name == "kucoin":
        return [*request.profile.default_scopes, *granted]
    return granted


def issue_code(request: AuthorizeRequest, user: SandboxUser, scopes: list[str]) -> str:
    code = AuthorizationCode.objects.create(
        code=random_token(32),
        client=request.client,
        user=user,
        redirect_uri=request.redirect_uri,
        scopes=scopes,
        code_challenge=request.code_challenge,
        code_challenge_method=request.code_challenge_method,
        expires_at=clock.now() + request.profile.code_ttl,
    )
    return code.code


# --- client authentication at the token endpoint -------------------------------------------------


def authenticate_client(exchange: str, client_id: str, client_secret: str | None) -> Client:
    client = Client.objects.filter(exchange=exchange, client_id=client_id or "").first()
    if client is None:
        raise OAuthError("invalid_client", "Unknown client.", status=401)
    if client.is_public:
        if client_secret:
            raise OAuthError("invalid_client", "A public client has no secret.", status=401)
    elif not client_secret or not secrets.compare_digest(client.client_secret.encode(), client_secret.encode()):
        raise OAuthError("invalid_client", "Client authentication failed.", status=401)
    return client


def basic_credentials(authorization_header: str) -> tuple[str, str]:
    """Kraken: ``Authorization: Basic base64(client_id:client_secret)`` is the only client authentication."""
    scheme, _, value = (authorization_header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        raise OAuthError("invalid_client", "Client authentication by HTTP Basic is required.", status=401)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401)
    if ":" not in decoded:
        raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401)
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret


# --- token pairs ------------------------------------------------------------------------------------


def _new_pair(client: Client, user: SandboxUser, scopes: list[str], family: str, code=None, device_id="") -> Token:
    profile = PROFILES[client.exchange]
    now = clock.now()
    peatio = client.exchange == "peatio"
    return Token.objects.create(
        family=family,
        client=client,
        user=user,
        code=code,
        scopes=scopes,
        access_token=random_token(40) if peatio else random_token(48),
        access_secret=random_token(40) if peatio else "",
        refresh_token=random_token(48),
        device_id=device_id,
        access_expires_at=now + profile.access_ttl_for(client),
        refresh_expires_at=now + profile.refresh_ttl,
        created_at=now,
    )


def _revoke_family(family: str) -> None:
    Token.objects.filter(family=family, revoked_at__isnull=True).update(revoked_at=clock.now())


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def exchange_code(
    client: Client,
    code_value: str,
    redirect_uri: str | None,
    *,
    redirect_uri_required: bool,
    code_verifier: str = "",
    device_id: str = "",
) -> Token:
    if not code_value:
        raise OAuthError("invalid_request", "code is required.")
    with transaction.atomic():
        code = AuthorizationCode.objects.select_for_update().filter(code=code_value).first()
        if code is None or code.client_id != client.pk:
            raise OAuthError("invalid_grant", "Unknown authorization code.")
        replayed = code.used_at is not None
        if replayed:
            # A replayed code is an attack signal: everything issued from it stops working.
            for family in Token.objects.filter(code=code).values_list("family", flat=True).distinct():
                _revoke_family(family)
        else:
            code.used_at = clock.now()
            code.save(update_fields=["used_at"])
    if replayed:  # raised outside the transaction so that the revocation stays
        raise OAuthError("invalid_grant", "Authorization code already used.")
    if code.expires_at <= clock.now():
        raise OAuthError("invalid_grant", "Authorization code expired.")
    if redirect_uri is None and redirect_uri_required:
        raise OAuthError("invalid_request", "redirect_uri is required.")
    if redirect_uri is not None and redirect_uri != code.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.", code="53016")
    if code.code_challenge:
        if not code_verifier or pkce_challenge(code_verifier) != code.code_challenge:
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")
    elif client.is_public and PROFILES[client.exchange].pkce_required_for_public:
        raise OAuthError("invalid_grant", "A public client must use PKCE.")
    if client.is_public and PROFILES[client.exchange].pkce_required_for_public and not device_id:
        raise OAuthError("invalid_request", "PKCE mode needs the device id (TERMID header).")
    return _new_pair(client, code.user, code.scopes, uuid.uuid4().hex, code=code, device_id=device_id)


def refresh(client: Client, refresh_value: str, *, scope: str | None = None, device_id: str = "") -> Token:
    if not refresh_value:
        raise OAuthError("invalid_request", "refresh_token is required.")
    # One transaction under the row lock: of two concurrent refreshes with one token, the second waits, then
    # sees the token used, so a reuse always revokes the family (never just "already used").
    with transaction.atomic():
        token = Token.objects.select_for_update().filter(refresh_token=refresh_value).first()
        if token is None or token.client_id != client.pk:
            raise OAuthError("invalid_grant", "Unknown refresh token.")
        if token.revoked_at is not None:
            raise OAuthError("invalid_grant", "Refresh token revoked.", code="53003")
        reused = token.refresh_used_at is not None
        if reused:
            # Reuse of a rotated refresh token: revoke the whole family it belongs to.
            _revoke_family(token.family)
        else:
            now = clock.now()
            if token.refresh_expires_at <= now:
                raise OAuthError("invalid_grant", "Refresh token expired.", code="53002")
            if token.device_id and device_id != token.device_id:
                raise OAuthError("invalid_grant", "TERMID does not match the device this token is bound to.")
            scopes = token.scopes
            if scope is not None:
                narrowed = PROFILES[client.exchange].split_scope(scope)
                if not narrowed or not set(narrowed) <= set(token.scopes):
                    raise OAuthError("invalid_scope", "scope must be a subset of the granted scope.")
                scopes = narrowed
            token.refresh_used_at = now
            token.superseded_at = now  # the old access token stops working at once
            token.save(update_fields=["refresh_used_at", "superseded_at"])
            return _new_pair(client, token.user, scopes, token.family, code=token.code, device_id=token.device_id)
    # Raised outside the transaction so that the revocation stays.
    raise OAuthError("invalid_grant", "Refresh token already used; the token family is revoked.")


def revoke(client: Client, token_value: str) -> None:
    """RFC 7009: revoking either token of a pair ends the whole family; unknown tokens are not an error."""
    token = (
        Token.objects.filter(client=client, access_token=token_value).first()
        or Token.objects.filter(client=client, refresh_token=token_value).first()
    )
    if token is not None:
        _revoke_family(token.family)


def pair_token(exchange: str, value: str) -> Token | None:
    """The token whose access token is ``value``; Peatio's is "<access_key>:<secret_key>"
    (hpyhacking/peatio lib/doorkeeper/access_token.rb: token = api_token.to_oauth_token)."""
    access_key, _, secret_key = (value or "").partition(":")
    return (
        Token.objects.select_related("client", "user")
        .filter(client__exchange=exchange, access_token=access_key, access_secret=secret_key)
        .first()
        if access_key
        else None
    )


def doorkeeper_revoke(exchange: str, presented: str, token_value: str) -> None:
    """Doorkeeper 1.4's TokensController#revoke (doorkeeper-gem/doorkeeper v1.4.1, which Peatio's Gemfile.lock
    names): only when the presented access token is accessible (not expired, not revoked; a refresh revoked
    the old one) does it revoke the ``token`` given, an access or refresh token of the same application and
    resource owner (same_credential?). Client credentials play no part."""
    bearer = pair_token(exchange, presented)
    if bearer is None or bearer.revoked_at or bearer.superseded_at or bearer.access_expires_at <= clock.now():
        return
    if not token_value:
        return
    target = (
        pair_token(exchange, token_value)
        or Token.objects.filter(client__exchange=exchange, refresh_token=token_value).first()
    )
    if target is not None and target.client_id == bearer.client_id and target.user_id == bearer.user_id:
        _revoke_family(target.family)


class TokenProblem(Exception):
    """Why an access token was refused: unknown, expired, revoked or device."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def token_for_access(exchange: str, access_value: str, *, device_id: str | None = None) -> Token:
    token = (
        Token.objects.select_related("user", "client")
        .filter(access_token=access_value or "", client__exchange=exchange)
        .first()
    )
    if token is None:
        raise TokenProblem("unknown")
    if token.revoked_at is not None or token.superseded_at is not None:
        raise TokenProblem("revoked")
    if token.access_expires_at <= clock.now():
        raise TokenProblem("expired")
    if token.device_id and device_id != token.device_id:
        raise TokenProblem("device")
    return token


def bearer_value(authorization_header: str) -> str:
    scheme, _, value = (authorization_header or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def token_response(token: Token) -> dict:
    """The token endpoint's answer, in each exchange's own shape."""
    profile = PROFILES[token.client.exchange]
    access = f"{token.access_token}:{token.access_secret}" if token.access_secret else token.access_token
    body = {
        "access_token": access,  # Peatio: "<access_key>:<secret_key>"
        "token_type": profile.token_type,
        "expires_in": int(profile.access_ttl_for(token.client).total_seconds()),
    }
    if profile.issues_refresh_token:
        body["refresh_token"] = token.refresh_token
    if profile.scope_in_token_response == "list":
        body["scope"] = list(token.scopes)
    elif profile.scope_in_token_response == "text":
        body["scope"] = " ".join(token.scopes)
    return body
