"""OKX Fast API: authorization code only (okx/builder-integration-demo, demos/third-party-fastapi/
INTEGRATION_GUIDE.md, "Hard Constraints" and "Full Flow"): authorize with scope=fast_api, exchange the code with the
client secret (JSON), then delete and create the user's API key, which is the connection's lasting credential."""

from connectors.base.http import origin_of
from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider

from .client import OKXAPI
from .regions import regional_api_base_url, regional_base_urls


class OKXOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "okx"
    authorize_path = "/account/oauth/authorize"
    # "The token path verified by real integration is /v5/users/oauth/token" (no /api prefix), with a JSON body
    # {grant_type, code, client_id, client_secret} (INTEGRATION_GUIDE.md step 3; backend/okx_client.py).
    token_path = "/v5/users/oauth/token"
    token_request_format = "json"
    redirect_uri_in_token_request = False
    # Level C (exchange-docs/ENDPOINTS.md, "reported"): revocation, tried best effort after a failed connect and
    # at disconnect; a credential's settings may set "revoke_path" (or "revoke_url") to OKX's own.
    revoke_path = "/v5/users/oauth/revoke"
    # "expires_in": 3600, and no refresh token (INTEGRATION_GUIDE.md step 3).
    refresh_lifetime = None

    def connection_url(self, url, details):
        # The token and revoke endpoints live under the API base URL: move them to the user's OKX site.
        api_base_url = self.settings["api_base_url"].rstrip("/")
        if not url or not details.get("domain") or not url.startswith(api_base_url + "/"):
            return url
        return regional_api_base_url(self.settings, details["domain"]) + url[len(api_base_url) :]

    def allowed_base_urls(self, app):
        return [*super().allowed_base_urls(app), *regional_base_urls(app.settings)]


class OKXProvider(ExchangeProvider):
    id = "okx"
    exchange_id = "okx"
    name = "OKX"
    oauth2_adapter_class = OKXOAuth2Adapter
    api_class = OKXAPI
    fixed_scopes = ("fast_api",)
    # "Fast API supports authorization code mode only ... Do not implement Fast API with PKCE", and the code is
    # exchanged with the client secret (INTEGRATION_GUIDE.md): a public client cannot connect.
    confidential_clients_only = True

    def scope_for(self, permissions):
        # The scope is fast_api alone; the permission the user chooses is the key's perm (read_only or trade).
        return list(self.fixed_scopes)

    def get_auth_params(self):
        return {"access_type": "offline", **super().get_auth_params()}  # "Fast API requires offline."

    def flow_data_from_callback(self, callback_params):
        # The OKX site the user's later calls must use, from the code exchange on ("?code=…&state=…&domain=…"). It
        # arrives in the redirect's query string: a host that is not an OKX site refuses the connect (HostNotAllowed).
        domain = callback_params.get("domain")
        if not domain:
            return {}
        return {"domain": origin_of(regional_api_base_url(self.app.settings, domain))[1]}

    def connection_details(self, callback_params, token, flow_data):
        return {"domain": flow_data["domain"]} if flow_data.get("domain") else {}


provider_classes = [OKXProvider]
