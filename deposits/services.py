"""The Receive page's and API's calls to the exchange: which networks an asset arrives on, the user's address on
one, and a new address where there is none; each through one call path with the token refresh."""

from dataclasses import dataclass
from functools import partial

from django.db import transaction

from broker_portal.audit import record_audit_event
from connectors.base.api import DepositAddress, DepositAddressRefused, DepositNetwork, ExchangeAPI, ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.clients import connection_api
from connectors.exchanges import EXCHANGES
from connectors.models import ExchangeConnection
from connectors.token_refresh import RefreshFailed, call_with_fresh_token

from .selectors import MAX_NETWORK_LENGTH, clean_asset, deposit_capability


def deposit_api(connection: ExchangeConnection) -> ExchangeAPI:
    """The connection's signed client; an exchange whose package has none offers no deposit addresses."""
    api = connection_api(connection)
    if api is None:
        raise DepositAddressRefused(
            f"{EXCHANGES[connection.exchange].name} offers no deposit addresses here.",
            reason=DepositAddressRefused.NOT_CREATABLE,
        )
    return api


def deposit_address_create(
    *, connection: ExchangeConnection, asset: str, network_id: str, request=None
) -> DepositAddress:
    """A new address for ``asset`` on the network where the account has none and the exchange makes them; an
    address that exists already is answered as it is (``created`` false), so a repeated request makes no second."""
    reason = deposit_capability(connection=connection)
    if reason:
        raise DepositAddressRefused(reason, reason=DepositAddressRefused.PERMISSION)
    asset = clean_asset(asset)
    network = deposit_network(connection=connection, asset=asset, network_id=network_id)
    api = deposit_api(connection)
    name = EXCHANGES[connection.exchange].name
    if not api.deposit_address_creatable or not network.creatable:
        raise DepositAddressRefused(
            f"{name} makes its deposit addresses itself; the portal cannot create one.",
            reason=DepositAddressRefused.NOT_CREATABLE,
        )
    existing = call_with_fresh_token(
        connection=connection, call=partial(api.deposit_address, asset=asset, network=network)
    )
    if existing is not None:
        return existing
    # The exchange call is made outside any transaction; its record is written in one.
    address = call_with_fresh_token(
        connection=connection, call=partial(api.deposit_address, asset=asset, network=network, create=True)
    )
    if address is None:
        raise DepositAddressRefused(
            f"{name} did not return the new address; try again.", reason=DepositAddressRefused.NOT_CREATABLE
        )
    with transaction.atomic():
        record_audit_event(
            tenant=connection.tenant,
            action="connection.deposit_address_created",
            target=connection,
            request=request,
            details={
                "exchange": connection.exchange,
                "asset": asset,
                "network": network.id,
                "address": address.address,
            },
        )
    return address


@dataclass(frozen=True)
class Receive:
    """The user's address on one network (None where there is none yet) and whether one may be created."""

    asset: str
    network: DepositNetwork
    address: DepositAddress | None
    can_create: bool


def deposit_assets(*, connection: ExchangeConnection) -> list[str]:
    """Assets to suggest (those the account holds); none where the exchange cannot tell right now."""
    try:
        return sorted(set(call_with_fresh_token(connection=connection, call=deposit_api(connection).deposit_assets)))
    except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed):
        return []


def deposit_networks(*, connection: ExchangeConnection, asset: str) -> list[DepositNetwork]:
    """The networks ``asset`` arrives on at this exchange; DepositAddressRefused for an asset it lacks."""
    asset = clean_asset(asset)
    api = deposit_api(connection)
    networks = call_with_fresh_token(connection=connection, call=partial(api.deposit_networks, asset=asset))
    if not networks:
        raise DepositAddressRefused(
            f"{EXCHANGES[connection.exchange].name} takes no deposits of {asset}.",
            reason=DepositAddressRefused.UNKNOWN_ASSET,
        )
    return networks


def deposit_network(*, connection: ExchangeConnection, asset: str, network_id: str) -> DepositNetwork:
    """One of the asset's networks by its id (an exchange with one network needs none named)."""
    networks = deposit_networks(connection=connection, asset=asset)
    if not network_id and len(networks) == 1:
        return networks[0]
    network = next((n for n in networks if n.id == network_id), None) if len(network_id) <= MAX_NETWORK_LENGTH else None
    if network is None:
        names = ", ".join(n.name for n in networks)
        raise DepositAddressRefused(
            f"Choose a network {asset.upper()} arrives on: {names}.", reason=DepositAddressRefused.UNKNOWN_NETWORK
        )
    return network


def deposit_address_get(*, connection: ExchangeConnection, asset: str, network_id: str) -> Receive:
    """The user's address for ``asset`` on the network; where there is none, whether the portal may create one."""
    asset = clean_asset(asset)
    network = deposit_network(connection=connection, asset=asset, network_id=network_id)
    api = deposit_api(connection)
    address = call_with_fresh_token(
        connection=connection, call=partial(api.deposit_address, asset=asset, network=network)
    )
    return Receive(
        asset=asset,
        network=network,
        address=address,
        can_create=address is None and api.deposit_address_creatable and network.creatable,
    )
