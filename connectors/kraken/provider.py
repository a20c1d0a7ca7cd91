from datetime import timedelta

from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider

from .api import KrakenAPI


class KrakenOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "kraken"
    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"
    basic_auth = True  # client_id:client_secret, with an empty secret for public clients
    default_access_lifetime = timedelta(hours=24)
    refresh_lifetime = timedelta(days=30)


class KrakenProvider(ExchangeProvider):
    id = "kraken"
    exchange_id = "kraken"
    name = "Kraken"
    oauth2_adapter_class = KrakenOAuth2Adapter
    api_class = KrakenAPI


provider_classes = [KrakenProvider]
