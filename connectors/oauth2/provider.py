"""A generic OAuth 2.0 connection to any authorization server that follows RFC 6749, RFC 7636 (PKCE), RFC 7009
(revocation), RFC 8414 (metadata) and RFC 9207 (``iss``), described by its credential's settings (see
credential.py and metadata.py). It keeps the tokens and knows the account (userinfo); it has no exchange API."""

from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider
from connectors.exchanges import Permission

from .client import GenericOAuth2API
from .metadata import missing_endpoints


class GenericOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "oauth2"

    def __init__(self, request, provider=None):
        super().__init__(request, provider)
        if self.settings.get("client_type") == "public":
            # A public client has no password for HTTP Basic: it names itself with client_id in the body
            # (RFC 6749 §2.3.1, §4.1.3).
            self.basic_auth = False

    def allowed_base_urls(self, app) -> list[str]:
        settings = app.settings
        return [
            url
            for url in (
                settings.get("api_base_url"),
                settings.get("token_url"),
                settings.get("refresh_url"),
                settings.get("revoke_url"),
                settings.get("userinfo_url"),
            )
            if url
        ]


class GenericOAuth2Provider(ExchangeProvider):
    id = "oauth2"
    exchange_id = "oauth2"
    name = "OAuth 2.0"
    oauth2_adapter_class = GenericOAuth2Adapter
    api_class = GenericOAuth2API
    # RFC 9700 §2.1.1: PKCE unless the credential says the server cannot take it (metadata.server_settings).
    pkce_enabled_default = True
    refuses_second_connection_of_account = True
    several_servers = True

    def __init__(self, request, app=None):
        super().__init__(request, app=app)
        # The broker names its server for its members (the credential's display name).
        display_name = app.settings.get("display_name") if app is not None else ""
        if display_name:
            self.name = display_name

    def configuration_problem(self) -> str:
        missing = missing_endpoints(self.app.settings)
        if missing:
            return (
                f"The broker's {self.name} server has no {' and no '.join(m.removesuffix('_url') for m in missing)} "
                f"endpoint configured: set its issuer URL, or the endpoints, on the credential."
            )
        return super().configuration_problem()

    def offered_permissions(self):
        # Scopes are whatever the server defines; the tenant lists them.
        return [Permission(code, code, "") for code in self.app.settings["allowed_permissions"]]

    def get_default_scope(self):
        return list(self.app.settings.get("default_permissions") or [])

    def scope_for(self, permissions: list[str]) -> list[str]:
        # An OpenID Connect server answers its userinfo endpoint only for a token with the openid scope; the
        # account id is read there, so it is asked for whatever the user picks.
        settings = self.app.settings
        identity = (
            ["openid"] if settings.get("userinfo_url") and "openid" in settings.get("scopes_supported", ()) else []
        )
        return [*identity, *permissions]


provider_classes = [GenericOAuth2Provider]
