import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider

from .api import OKXAPI


class OKXOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "okx"
    authorize_path = "/account/oauth/authorize"
    token_path = "/v5/users/oauth/token"
    revoke_path = "/v5/users/oauth/revoke"
    scope_delimiter = ","
    refresh_lifetime = timedelta(days=3)


class OKXProvider(ExchangeProvider):
    id = "okx"
    exchange_id = "okx"
    name = "OKX"
    oauth2_adapter_class = OKXOAuth2Adapter
    api_class = OKXAPI
    fixed_scopes = ("fast_api",)  # the Fast API key is what the connection is for
    pkce_for_public_clients = True

    def get_auth_params(self):
        return {"access_type": "offline", **super().get_auth_params()}

    def is_public(self) -> bool:
        return self.app.settings.get("client_type") == "public"

    def flow_data(self):
        # PKCE mode binds the tokens to a device: the portal acts as that device with an id per connection.
        return {"device_id": str(uuid.uuid4())} if self.is_public() else {}

    def token_headers(self, flow_data):
        return {"TERMID": flow_data["device_id"]} if flow_data.get("device_id") else {}

    def connection_details(self, callback_params, token, flow_data):
        details = {}
        if flow_data.get("device_id"):
            details["device_id"] = flow_data["device_id"]
        domain = (callback_params.get("domain") or "").lower()
        # The regional host later calls must use; kept only where the tenant configured it, so a forged
        # callback cannot send tokens to another host.
        allowed = {urlsplit(self.app.settings["api_base_url"]).netloc.lower(), *self.app.settings.get("domains", [])}
        if domain and domain in allowed:
            details["domain"] = domain
        return details


provider_classes = [OKXProvider]
