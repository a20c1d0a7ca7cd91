"""Reads of the Receive page and API: may this connection show deposit addresses, and which asset is meant.

What asks the exchange (the networks an asset arrives on, the user's address on one) is in services."""

from allauth.socialaccount.providers import registry

from connectors.base.api import DepositAddressRefused
from connectors.models import ExchangeConnection
from connectors.selectors import connection_capability

# What a page or the API may ask about an asset and a network: short codes and ids, never free text.
MAX_ASSET_LENGTH = 16
MAX_NETWORK_LENGTH = 100


def api_class_of(exchange_id: str):
    provider_class = registry.get_class(exchange_id)
    return getattr(provider_class, "api_class", None) if provider_class else None


def deposit_capability(*, connection: ExchangeConnection) -> str:
    """Why this connection cannot show deposit addresses, or "" when it can."""
    api_class = api_class_of(connection.exchange)
    return connection_capability(
        connection=connection,
        offered=bool(api_class and api_class.deposit_addresses_offered),
        permissions=api_class.deposit_permissions if api_class else (),
        offer="deposit addresses",
        purpose="to see deposit addresses",
    )


def clean_asset(asset: str) -> str:
    asset = (asset or "").strip().upper()
    if not asset or len(asset) > MAX_ASSET_LENGTH or not asset.isalnum():
        raise DepositAddressRefused(
            "Choose an asset by its code, e.g. BTC.", reason=DepositAddressRefused.UNKNOWN_ASSET
        )
    return asset
