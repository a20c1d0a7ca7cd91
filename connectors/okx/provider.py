import uuid
from datetime import timedelta

from connectors.base.http import origin_of
from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider

from .api import OKXAPI
from .regions import regional_api_base_url, regional_base_urls


class OKXOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "okx"
    authorize_path = "/account/oauth/authorize"
    token_path = "/v5/users/oauth/token"
    revoke_path = "/v5/users/oauth/revoke"
    scope_delimiter = ","
    refresh_lifetime = timedelta(days=3)

    def connection_url(self, url, details):
        # The token, refresh and revoke endpoints live under the API base URL: move them to the user's region.
        api_base_url = self.settings["api_base_url"].rstrip("/")
        if not url or not details.get("domain") or not url.startswith(api_base_url + "/"):
            return url
        return regional_api_base_url(self.settings, details["domain"]) + url[len(api_base_url):]

    def allowed_base_urls(self, app):
        return [*super().allowed_base_urls(app), *regional_base_urls(app.settings)]


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

    def flow_data_from_callback(self, callback_params):
        # The regional host the user's later calls must use, from the code exchange on. It arrives in the
        # redirect's query string: one that is not on the allow-list refuses the connect (HostNotAllowed).
        domain = callback_params.get("domain")
        if not domain:
            return {}
        return {"domain": origin_of(regional_api_base_url(self.app.settings, domain))[1]}

    def connection_details(self, callback_params, token, flow_data):
        return {name: flow_data[name] for name in ("device_id", "domain") if flow_data.get(name)}


provider_classes = [OKXProvider]
