"""The exchange clients: the signed API object of a tenant's credential, and of a connection."""

from allauth.socialaccount.providers import registry

from connectors.models import ExchangeCredential

from .base.api import ExchangeAPI
from .models import ExchangeConnection
from .selectors import connection_credential
from .socialaccount import app_from_credential


def exchange_api(credential: ExchangeCredential) -> ExchangeAPI | None:
    """The credential's API client; None where the exchange's package has none."""
    provider_class = registry.get_class(credential.exchange)
    if provider_class is None or not hasattr(provider_class, "api_class"):
        return None
    return provider_class.api_class(
        app_from_credential(credential).settings,
        client_id=credential.client_id,
        client_secret=credential.client_secret,
        broker_key=credential.broker_key,
    )


def connection_api(connection: ExchangeConnection) -> ExchangeAPI | None:
    """The API client of the credential the connection was made with (selectors.connection_credential's rules)."""
    return exchange_api(connection_credential(connection))
