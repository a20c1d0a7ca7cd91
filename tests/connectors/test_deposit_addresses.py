"""Each exchange package's deposit hooks against the live sandbox: networks, the address (with memo and minimum),
creating one where the exchange allows it, and the refusals a user must be able to read."""

from decimal import Decimal

import pytest
import requests

from broker_portal.models import AuditEvent
from connectors.base.api import DepositAddressPending, DepositAddressRefused
from connectors.base.http import ExchangeUnavailable
from connectors.exchanges import EXCHANGES
from deposits import selectors, services
from tests.connectors.helpers import connected

pytestmark = pytest.mark.django_db(transaction=True)
KRAKEN_WITH_DEPOSIT = [*EXCHANGES["kraken"].default_permissions, "account.fast-api-key:funds-add"]


def test_kucoin_has_none_then_creates_one_and_reads_it_back(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin")
    networks = services.deposit_networks(connection=connection, asset="usdt")
    assert [(n.id, n.name, n.minimum, n.memo_required) for n in networks] == [
        ("trx", "TRC20", Decimal("1"), False),
        ("eth", "ERC20", Decimal("5"), False),
        ("ton", "TON", Decimal("1"), True),
    ]
    before = services.deposit_address_get(connection=connection, asset="USDT", network_id="trx")
    assert before.address is None and before.can_create
    created = services.deposit_address_create(connection=connection, asset="USDT", network_id="trx")
    assert created.created and created.address.startswith("T") and created.minimum == Decimal("1")
    event = AuditEvent.objects.get(action="connection.deposit_address_created")
    assert event.details == {"exchange": "kucoin", "asset": "USDT", "network": "trx", "address": created.address}
    after = services.deposit_address_get(connection=connection, asset="USDT", network_id="trx")
    assert after.address.address == created.address and not after.address.created and not after.can_create
    # Asked again, the portal answers the address there is and makes (and records) no second one.
    again = services.deposit_address_create(connection=connection, asset="USDT", network_id="trx")
    assert again.address == created.address and not again.created
    assert AuditEvent.objects.filter(action="connection.deposit_address_created").count() == 1
    ton = services.deposit_address_create(connection=connection, asset="USDT", network_id="ton")
    assert ton.memo.isdigit() and ton.memo_label == "Memo"


def test_kucoin_refuses_unknown_assets_and_networks_clearly(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin")
    with pytest.raises(DepositAddressRefused) as unknown:
        services.deposit_networks(connection=connection, asset="NOPE")
    assert unknown.value.reason == "unknown_asset" and "KuCoin does not list NOPE" in str(unknown.value)
    with pytest.raises(DepositAddressRefused) as wrong_network:
        services.deposit_address_get(connection=connection, asset="BTC", network_id="trx")
    assert wrong_network.value.reason == "unknown_network" and "BTC" in str(wrong_network.value)
    with pytest.raises(DepositAddressRefused):
        services.deposit_address_get(connection=connection, asset="BTC; DROP", network_id="btc")


def test_kucoin_key_without_general_is_refused_before_and_by_the_exchange(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin", ["API_SPOT"])
    assert connection.permissions == ["API_SPOT"]
    assert "“General” permission" in selectors.deposit_capability(connection=connection)
    with pytest.raises(DepositAddressRefused) as refused:
        services.deposit_address_create(connection=connection, asset="BTC", network_id="btc")
    assert refused.value.reason == "permission"
    # The exchange refuses it too (400007), and the user reads which permission is missing.
    with pytest.raises(DepositAddressRefused) as by_exchange:
        services.deposit_address_get(connection=connection, asset="BTC", network_id="btc")
    assert by_exchange.value.reason == "permission" and "General" in str(by_exchange.value)


def test_okx_reads_the_address_of_each_chain_with_its_memo_and_creates_none(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "okx")
    assert selectors.deposit_capability(connection=connection) == ""
    networks = services.deposit_networks(connection=connection, asset="USDT")
    assert [(n.id, n.name, n.minimum) for n in networks] == [
        ("USDT-TRC20", "TRC20", Decimal("1")),
        ("USDT-ERC20", "ERC20", Decimal("5")),
        ("USDT-TON", "TON", Decimal("1")),
    ]
    trc20 = services.deposit_address_get(connection=connection, asset="USDT", network_id="USDT-TRC20")
    assert trc20.address.address.startswith("T") and trc20.address.memo == "" and not trc20.can_create
    ton = services.deposit_address_get(connection=connection, asset="USDT", network_id="USDT-TON").address
    assert ton.memo.isdigit() and ton.address != trc20.address.address
    with pytest.raises(DepositAddressRefused) as not_creatable:
        services.deposit_address_create(connection=connection, asset="USDT", network_id="USDT-TRC20")
    assert not_creatable.value.reason == "not_creatable"
    with pytest.raises(DepositAddressRefused) as unknown:
        services.deposit_networks(connection=connection, asset="NOPE")
    assert unknown.value.reason == "unknown_asset"


def test_kraken_needs_the_deposit_permission(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kraken")
    assert "“Deposit” permission" in selectors.deposit_capability(connection=connection)
    with pytest.raises(DepositAddressRefused) as refused:
        services.deposit_networks(connection=connection, asset="BTC")
    assert refused.value.reason == "permission"


def test_kraken_lists_methods_and_makes_an_address_with_new(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kraken", KRAKEN_WITH_DEPOSIT)
    assert selectors.deposit_capability(connection=connection) == ""
    btc = services.deposit_networks(connection=connection, asset="BTC")
    assert [(n.id, n.minimum, n.creatable) for n in btc] == [("Bitcoin", Decimal("0.0001"), True)]
    # One network: it need not be named.
    before = services.deposit_address_get(connection=connection, asset="BTC", network_id="")
    assert before.address is None and before.can_create
    created = services.deposit_address_create(connection=connection, asset="BTC", network_id="Bitcoin")
    assert created.created and created.address.startswith("bc1q") and created.expires_at is None
    after = services.deposit_address_get(connection=connection, asset="BTC", network_id="Bitcoin")
    assert after.address.address == created.address
    ton = services.deposit_address_create(connection=connection, asset="USDT", network_id="Tether (TON)")
    assert ton.memo.isdigit()
    with pytest.raises(DepositAddressRefused) as unknown:
        services.deposit_networks(connection=connection, asset="NOPE")
    assert unknown.value.reason == "unknown_asset"


def test_peatio_address_is_generated_then_read(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "peatio")
    assert [n.name for n in services.deposit_networks(connection=connection, asset="BTC")] == ["BTC"]
    with pytest.raises(DepositAddressPending, match="try again"):
        services.deposit_address_get(connection=connection, asset="BTC", network_id="")
    ready = services.deposit_address_get(connection=connection, asset="BTC", network_id="")
    assert ready.address.address.startswith("bc1q") and not ready.can_create
    with pytest.raises(DepositAddressRefused) as unknown:
        services.deposit_address_get(connection=connection, asset="NOPE", network_id="")
    assert unknown.value.reason == "unknown_asset"


def test_an_unavailable_exchange_is_unavailable_not_a_refusal(browser_session, sandbox_accounts, portal):
    connection = connected(browser_session, sandbox_accounts, "kucoin")
    fault = {"exchange": "kucoin", "endpoint": "deposit-addresses", "kind": "500"}
    assert requests.post(f"{portal['url']}/sandbox/control/faults", json=fault).status_code in (200, 201)
    with pytest.raises(ExchangeUnavailable):
        services.deposit_address_get(connection=connection, asset="BTC", network_id="btc")
