"""The attribution check reads recent orders back from the exchange and flags those lacking the broker's
attribution; the broker admin sees the attributed volume per exchange and day, its own tenant's only."""

from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from broker_portal.models import AuditEvent, Membership
from connectors.models import ExchangeConnection
from sandbox import trading as sandbox_trading
from sandbox.models import SandboxUser
from tests.connectors.helpers import connected
from tests.helpers import make_member
from tests.trading.helpers import KRAKEN_TRADING, connected_kraken, connected_okx, place
from trading import selectors, services, tasks
from trading.models import TradeOrder

# KuCoin's default grant is General only: trading is ticked on purpose.
TRADING = ["API_COMMON", "API_SPOT"]


def test_volume_per_exchange_and_day_is_the_tenants_own_in_one_query(tenant, other_tenant, client_at, db):
    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    stranger = make_member(other_tenant, "stranger@beta.example")
    own = ExchangeConnection.objects.create(tenant=tenant, user=admin, exchange="okx")
    foreign = ExchangeConnection.objects.create(tenant=other_tenant, user=stranger, exchange="okx")

    def order(connection, funds, attributed, client_id):
        return TradeOrder.objects.create(
            tenant=connection.tenant,
            connection=connection,
            user=connection.user,
            exchange="okx",
            symbol="BTC-USDT",
            base="BTC",
            quote="USDT",
            side="buy",
            type="market",
            size=Decimal("0.01"),
            client_order_id=client_id,
            status="filled",
            filled_funds=Decimal(funds),
            attributed=attributed,
        )

    order(own, "650.5", True, "a1"), order(own, "100", False, "a2"), order(own, "7", None, "a3")
    order(foreign, "99999", True, "b1")
    with CaptureQueriesContext(db_connection) as queries:
        rows = selectors.attributed_volume(tenant=tenant)
    assert len(queries) == 1
    assert [(r.exchange, r.quote, r.attributed, r.unattributed, r.unchecked, r.orders, r.flagged) for r in rows] == [
        ("okx", "USDT", Decimal("650.5"), Decimal("100"), Decimal("7"), 3, 1)
    ]

    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = client_at("alpha.localhost")
    client.force_login(admin)
    page = client.get("/admin/trading/tradeorder/volume/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<td class="attributed">650.5</td>' in html and '<td class="unattributed">100</td>' in html
    assert "99999" not in html
    listing = client.get("/admin/trading/tradeorder/")
    assert listing.status_code == 200 and "Attributed volume" in listing.content.decode()
    assert "b1" not in listing.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_check_flags_orders_without_the_attribution(browser_session, sandbox_accounts):  # noqa: F811
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    mine = place(connection, base="BTC", quote="USDT", side="buy", type="limit", size="0.001", price="60000")
    filled = place(connection, base="BTC", quote="USDT", side="buy", type="market", size="0.001")
    # The user places one at KuCoin itself, which no partner header attributes to the broker.
    user = SandboxUser.objects.get(exchange="kucoin", email=sandbox_accounts["kucoin"]["trader"]["email"])
    outside = sandbox_trading.order_place(
        user=user,
        symbol="BTC-USDT",
        side="sell",
        type="market",
        size=Decimal("0.002"),
        price=None,
        client_order_id="placed-at-kucoin",
    )

    counts = tasks.attribution_check_all()
    assert counts == {"connections": 1, "checked": 3, "unattributed": 1, "found": 1, "failed": 0}
    mine.refresh_from_db(), filled.refresh_from_db()
    assert mine.attributed is True and filled.attributed is True and filled.attribution_checked_at
    found = TradeOrder.objects.get(exchange_order_id=outside.order_id)
    assert found.source == "exchange" and found.attributed is False and found.filled_funds == Decimal("130")
    assert AuditEvent.objects.filter(action="trade.order_unattributed").count() == 1
    # A second run flags nothing new.
    assert tasks.attribution_check_all()["found"] == 0
    assert AuditEvent.objects.filter(action="trade.order_unattributed").count() == 1
    [row] = selectors.attributed_volume(tenant=connection.tenant)
    assert (row.attributed, row.unattributed) == (Decimal("65"), Decimal("130"))


@pytest.mark.django_db(transaction=True)
def test_okx_orders_are_judged_by_their_tag(browser_session, sandbox_accounts):  # noqa: F811
    connection = connected_okx(browser_session, sandbox_accounts, ["read_only", "trade"])
    mine = place(connection, base="BTC", quote="USDT", side="buy", type="market", size="0.001")
    user = SandboxUser.objects.get(exchange="okx", email=sandbox_accounts["okx"]["trader"]["email"])
    other = sandbox_trading.order_place(
        user=user,
        symbol="BTC-USDT",
        side="buy",
        type="market",
        size=Decimal("0.001"),
        price=None,
        attribution={"tag": "SomeLibrary"},
    )
    counts = services.attribution_check(connection=connection)
    assert counts == {"checked": 2, "unattributed": 1, "found": 1}
    mine.refresh_from_db()
    assert mine.attributed is True and mine.attribution["reported"] == {"tag": mine.attribution["tag"]}
    flagged = TradeOrder.objects.get(exchange_order_id=other.order_id)
    assert flagged.attributed is False and flagged.attribution == {
        "tag": "SomeLibrary",
        "reported": {"tag": "SomeLibrary"},
    }


@pytest.mark.django_db(transaction=True)
def test_an_order_found_at_kraken_takes_its_pair_from_the_portals_orders(
    browser_session,  # noqa: F811
    sandbox_accounts,
):  # noqa: F811
    """Kraken names the pair XBTUSDT, with no separator: the found order's base and quote are the portal's own."""
    connection = connected_kraken(browser_session, sandbox_accounts, KRAKEN_TRADING)
    place(connection, base="BTC", quote="USDT", side="buy", type="market", size="0.001")
    user = SandboxUser.objects.get(exchange="kraken", email=sandbox_accounts["kraken"]["trader"]["email"])
    outside = sandbox_trading.order_place(
        user=user, symbol="BTC-USDT", side="buy", type="market", size=Decimal("0.001"), price=None, client_order_id=""
    )
    assert services.attribution_check(connection=connection)["found"] == 1
    found = TradeOrder.objects.get(exchange_order_id=outside.order_id)
    assert (found.symbol, found.base, found.quote, found.attributed) == ("XBTUSDT", "BTC", "USDT", False)


@pytest.mark.django_db(transaction=True)
def test_the_check_reads_pairs_the_portal_never_traded_and_orders_past_a_page(
    browser_session,  # noqa: F811
    sandbox_accounts,
):  # noqa: F811
    """KuCoin lists closed orders per pair, a page at a time, and names the pairs holding open orders: an order the
    user rests in another pair is found, and the portal's order behind 100 newer ones is still read and judged."""
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    mine = place(connection, base="BTC", quote="USDT", side="buy", type="market", size="0.001")
    user = SandboxUser.objects.get(exchange="kucoin", email=sandbox_accounts["kucoin"]["trader"]["email"])
    for n in range(100):
        sandbox_trading.order_place(
            user=user,
            symbol="BTC-USDT",
            side="buy",
            type="market",
            size=Decimal("0.00001"),
            price=None,
            client_order_id=f"bulk{n:04d}",
        )
    resting = sandbox_trading.order_place(
        user=user,
        symbol="SOL-USDT",
        side="buy",
        type="limit",
        size=Decimal("1"),
        price=Decimal("1"),
        client_order_id="resting-elsewhere",
    )
    counts = services.attribution_check(connection=connection)
    assert counts == {"checked": 102, "unattributed": 101, "found": 101}
    mine.refresh_from_db()
    assert mine.attributed is True and mine.attribution_checked_at
    found = TradeOrder.objects.get(exchange_order_id=resting.order_id)
    assert (found.symbol, found.base, found.quote, found.attributed) == ("SOL-USDT", "SOL", "USDT", False)


@pytest.mark.django_db(transaction=True)
def test_okx_and_kraken_checks_read_every_pair_at_once(browser_session, sandbox_accounts):  # noqa: F811
    for connection, exchange in (
        (connected_okx(browser_session, sandbox_accounts, ["read_only", "trade"]), "okx"),
        (connected_kraken(browser_session, sandbox_accounts, KRAKEN_TRADING), "kraken"),
    ):
        place(connection, base="BTC", quote="USDT", side="buy", type="market", size="0.001")
        user = SandboxUser.objects.get(exchange=exchange, email=sandbox_accounts[exchange]["trader"]["email"])
        elsewhere = sandbox_trading.order_place(
            user=user, symbol="ETH-BTC", side="buy", type="market", size=Decimal("0.01"), price=None, client_order_id=""
        )
        assert services.attribution_check(connection=connection) == {"checked": 2, "unattributed": 1, "found": 1}
        found = TradeOrder.objects.get(exchange_order_id=elsewhere.order_id)
        assert (found.base, found.quote, found.attributed) == ("ETH", "BTC", False), exchange
