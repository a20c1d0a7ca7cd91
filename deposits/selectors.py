"""Reads of the Receive page and API: which networks an asset arrives on, and the user's address on one.

The exchange's package says how (connectors/base/api.py, its deposit hooks); these functions hold the rules they
share: which connection may ask, which network is meant, and one call path through the token refresh."""

from dataclasses import dataclass
from functools import partial

from allauth.socialaccount.providers import registry

from connectors.base.api import DepositAddress, DepositAddressRefused, DepositNetwork, ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.clients import connection_api
from connectors.exchanges import EXCHANGES
from connectors.models import ExchangeConnection
from connectors.refresh import RefreshFailed, call_with_fresh_token
from connectors.selectors import connection_capability

# What a page or the API may ask about an asset and a network: short codes and ids, never free text.
MAX_ASSET_LENGTH = 16
MAX_NETWORK_LENGTH = 100


@dataclass(frozen=True)
class Receive:
    """The user's address on one network (None where there is none yet) and whether one may be created."""

    asset: str
    network: DepositNetwork
    address: DepositAddress | None
    can_create: bool


def api_class_of(exchange_id: str):
    provider_class = registry.get_class(exchange_id)
    return getattr(provider_class, "api_class", None) if provider_class else None


def deposit_capability(*, connection: ExchangeConnection) -> str:
    """Why this connection cannot show deposit addresses, or "" when it can."""
    api_class = api_class_of(connection.exchange)
    return connection_capability(connection=connection, offered=bool(api_class and api_class.deposit_addresses_offered),
                                 permissions=api_class.deposit_permissions if api_class else (),
                                 offer="deposit addresses", purpose="to see deposit addresses")


def clean_asset(asset: str) -> str:
    asset = (asset or "").strip().upper()
    if not asset or len(asset) > MAX_ASSET_LENGTH or not asset.isalnum():
        raise DepositAddressRefused("Choose an asset by its code, e.g. BTC.", reason=DepositAddressRefused.UNKNOWN_ASSET)
    return asset


def deposit_assets(*, connection: ExchangeConnection) -> list[str]:
    """Assets to suggest (those the account holds); none where the exchange cannot tell right now."""
    try:
        return sorted(set(call_with_fresh_token(connection=connection, call=connection_api(connection).deposit_assets)))
    except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed):
        return []


def deposit_networks(*, connection: ExchangeConnection, asset: str) -> list[DepositNetwork]:
    """The networks ``asset`` arrives on at this exchange; DepositAddressRefused for an asset it lacks."""
    asset = clean_asset(asset)
    api = connection_api(connection)
    networks = call_with_fresh_token(connection=connection, call=partial(api.deposit_networks, asset=asset))
    if not networks:
        raise DepositAddressRefused(f"{EXCHANGES[connection.exchange].name} takes no deposits of {asset}.",
                                    reason=DepositAddressRefused.UNKNOWN_ASSET)
    return networks


def deposit_network(*, connection: ExchangeConnection, asset: str, network_id: str) -> DepositNetwork:
    """One of the asset's networks by its id (an exchange with one network needs none named)."""
    networks = deposit_networks(connection=connection, asset=asset)
    if not network_id and len(networks) == 1:
        return networks[0]
    network = next((n for n in networks if n.id == network_id), None) if len(network_id) <= MAX_NETWORK_LENGTH else None
    if network is None:
        names = ", ".join(n.name for n in networks)
        raise DepositAddressRefused(f"Choose a network {asset.upper()} arrives on: {names}.",
                                    reason=DepositAddressRefused.UNKNOWN_NETWORK)
    return network


def deposit_address_get(*, connection: ExchangeConnection, asset: str, network_id: str) -> Receive:
    """The user's address for ``asset`` on the network; where there is none, whether the portal may create one."""
    asset = clean_asset(asset)
    network = deposit_network(connection=connection, asset=asset, network_id=network_id)
    api = connection_api(connection)
    address = call_with_fresh_token(connection=connection,
                                    call=partial(api.deposit_address, asset=asset, network=network))
    return Receive(asset=asset, network=network, address=address,
                   can_create=address is None and api.deposit_address_creatable and network.creatable)
