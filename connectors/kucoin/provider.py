from datetime import timedelta

from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider

from .api import KuCoinAPI


class KuCoinOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "kucoin"
    authorize_path = "/oauth"
    token_path = "/_oauth/access-token"
    refresh_path = "/_oauth/refresh-token"
    encode_redirect_uri = False  # "please don't encode the redirect URL"
    scope_delimiter = ","
    refresh_lifetime = timedelta(days=3)

    def refresh_request_data(self, refresh_token, permissions):
        # KuCoin's refresh call names the scope again.
        return {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": ",".join(permissions)}


class KuCoinProvider(ExchangeProvider):
    id = "kucoin"
    exchange_id = "kucoin"
    name = "KuCoin"
    oauth2_adapter_class = KuCoinOAuth2Adapter
    api_class = KuCoinAPI


provider_classes = [KuCoinProvider]
