"""Writes of the Receive page and API: asking the exchange for a new deposit address."""

from functools import partial

from django.db import transaction

from broker_portal.audit import record_audit_event
from connectors.base.api import DepositAddress, DepositAddressRefused
from connectors.exchanges import EXCHANGES
from connectors.models import ExchangeConnection
from connectors.refresh import call_with_fresh_token

from .selectors import clean_asset, connection_api, deposit_capability, deposit_network


def deposit_address_create(*, connection: ExchangeConnection, asset: str, network_id: str,
                           request=None) -> DepositAddress:
    """A new address for ``asset`` on the network where the account has none and the exchange makes them; an
    address that exists already is answered as it is (``created`` false), so a repeated request makes no second."""
    reason = deposit_capability(connection=connection)
    if reason:
        raise DepositAddressRefused(reason, reason=DepositAddressRefused.PERMISSION)
    asset = clean_asset(asset)
    network = deposit_network(connection=connection, asset=asset, network_id=network_id)
    api = connection_api(connection)
    name = EXCHANGES[connection.exchange].name
    if not api.deposit_address_creatable or not network.creatable:
        raise DepositAddressRefused(f"{name} makes its deposit addresses itself; the portal cannot create one.",
                                    reason=DepositAddressRefused.NOT_CREATABLE)
    existing = call_with_fresh_token(connection=connection, call=partial(api.deposit_address, asset=asset,
                                                                         network=network))
    if existing is not None:
        return existing
    # The exchange call is made outside any transaction; its record is written in one.
    address = call_with_fresh_token(connection=connection, call=partial(api.deposit_address, asset=asset,
                                                                        network=network, create=True))
    if address is None:
        raise DepositAddressRefused(f"{name} did not return the new address; try again.",
                                    reason=DepositAddressRefused.NOT_CREATABLE)
    with transaction.atomic():
        record_audit_event(tenant=connection.tenant, action="connection.deposit_address_created", target=connection,
                           request=request, details={"exchange": connection.exchange, "asset": asset,
                                                     "network": network.id, "address": address.address})
    return address
