"""A generic OAuth 2.0 connection, configured entirely by data in the tenant's credential settings:

    {"authorize_url": "...", "token_url": "...", "revoke_url": "...",   # or *_path under the base URLs
     "client_auth": "basic" | "body", "scope_delimiter": " ", "pkce": true (the default) | false}

It keeps the tokens; it has no exchange API of its own."""

from django.core.exceptions import ImproperlyConfigured

from connectors.base.api import ExchangeAPI
from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider
from connectors.exchanges import Permission


class GenericOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "oauth2"

    def __init__(self, request, provider=None):
        super().__init__(request, provider)
        if not (self.settings.get("authorize_url") or self.authorize_path) or not (
                self.settings.get("token_url") or self.token_path):
            raise ImproperlyConfigured("A generic OAuth 2.0 credential needs authorize_url and token_url settings.")


class GenericOAuth2Provider(ExchangeProvider):
    id = "oauth2"
    exchange_id = "oauth2"
    name = "OAuth 2.0"
    oauth2_adapter_class = GenericOAuth2Adapter
    api_class = ExchangeAPI
    # RFC 9700 §2.1.1: PKCE unless the credential's settings say "pkce": false for a server that refuses it.
    pkce_enabled_default = True

    def offered_permissions(self):
        # Scopes are whatever the server defines; the tenant lists them.
        return [Permission(code, code, "") for code in self.app.settings["allowed_permissions"]]

    def get_default_scope(self):
        return list(self.app.settings.get("default_permissions") or [])


provider_classes = [GenericOAuth2Provider]
