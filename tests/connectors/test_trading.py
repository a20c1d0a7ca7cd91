"""Each exchange package's trading hooks against the live sandbox: increments, preview, place, fills, cancel, open
orders and history, the broker's attribution on every order, and the refusals a user must be able to read."""

from decimal import Decimal

import pytest
import requests

from broker_portal.models import AuditEvent
from connectors import clients
from connectors.base.trading import AttributionMissing, TradingRefused
from connectors.exchanges import trading_hooks
from connectors.models import ExchangeCredential
from sandbox.models import Balance, SpotOrder
from tests.connectors.helpers import connected
from tests.trading.helpers import KRAKEN_TRADING, TRADING, connected_kraken, connected_okx, place
from trading import selectors, services
from trading.models import TradeOrder

pytestmark = pytest.mark.django_db(transaction=True)
# KuCoin's default grant is General only: trading is ticked on purpose.


def test_kucoin_limit_order_is_previewed_placed_with_partner_headers_and_cancelled(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    instrument = services.instrument_get(connection=connection, base="btc", quote="usdt")
    assert (instrument.symbol, instrument.price_tick, instrument.size_step, instrument.min_size) == (
        "BTC-USDT",
        Decimal("0.1"),
        Decimal("0.00000001"),
        Decimal("0.00001"),
    )
    # Below the sandbox price of 65000: the order rests; the size and price are rounded to the steps.
    preview = services.order_preview(
        connection=connection, base="BTC", quote="USDT", side="buy", type="limit", size="0.0100000049", price="60000.09"
    )
    assert (
        preview.rounded and preview.ticket.size == Decimal("0.01000000") and preview.ticket.price == Decimal("60000.0")
    )
    assert preview.funds == Decimal("600.000000000") and preview.fee_rate == Decimal("0.001")
    assert preview.fee == Decimal("0.6") and preview.quote_after == preview.quote_before - Decimal("600.6")
    assert preview.base_after == preview.base_before + Decimal("0.01")

    order = services.order_place(
        connection=connection,
        base="BTC",
        quote="USDT",
        side="buy",
        type="limit",
        size=preview.ticket.size,
        price=preview.ticket.price,
        client_order_id=preview.ticket.client_order_id,
    )
    assert order.status == TradeOrder.Status.OPEN and order.exchange_order_id
    credential = ExchangeCredential.objects.get(exchange="kucoin")
    assert order.attribution == {
        "partner": credential.settings["partner"],
        "broker_name": credential.settings["broker_name"],
        "verify": "true",
        "partner_sign": "present",
    }
    at_exchange = SpotOrder.objects.get(order_id=order.exchange_order_id)
    assert at_exchange.attribution == {
        "partner": credential.settings["partner"],
        "broker_name": credential.settings["broker_name"],
        "verify": "true",
    }
    assert at_exchange.client_order_id == order.client_order_id and at_exchange.price == Decimal("60000.0")
    # A double submit of the same confirmation places nothing more.
    again = services.order_place(
        connection=connection,
        base="BTC",
        quote="USDT",
        side="buy",
        type="limit",
        size=preview.ticket.size,
        price=preview.ticket.price,
        client_order_id=preview.ticket.client_order_id,
    )
    assert again.pk == order.pk and SpotOrder.objects.count() == 1
    hooks, api = trading_hooks("kucoin"), clients.connection_api(connection)
    assert [o.order_id for o in hooks.open_orders(api, connection, "BTC-USDT")] == [order.exchange_order_id]

    services.order_cancel(order=order)
    order.refresh_from_db()
    assert order.status == TradeOrder.Status.CANCELLED
    assert SpotOrder.objects.get(order_id=order.exchange_order_id).status == "cancelled"
    assert hooks.open_orders(api, connection, "BTC-USDT") == []
    assert [o.status for o in hooks.order_history(api, connection, "BTC-USDT")] == ["cancelled"]
    assert list(
        AuditEvent.objects.filter(action__startswith="trade.").values_list("action", flat=True).order_by("pk")
    ) == ["trade.order_placed", "trade.order_cancelled"]
    with pytest.raises(TradingRefused):
        services.order_cancel(order=order)


def test_kucoin_market_sell_fills_with_its_fill_and_fee(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    order = place(connection, base="ETH", quote="USDT", side="sell", type="market", size="0.5")
    assert order.status == TradeOrder.Status.FILLED
    assert (order.filled_size, order.filled_funds, order.fee, order.fee_currency) == (
        Decimal("0.5"),
        Decimal("1600"),
        Decimal("1.6"),
        "USDT",
    )
    fills = services.order_refresh(order=order)
    assert [(f.price, f.size, f.fee) for f in fills] == [(Decimal("3200"), Decimal("0.5"), Decimal("1.6"))]


def test_kucoin_preview_reads_the_high_frequency_account_its_orders_trade_from(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    email = sandbox_accounts["kucoin"]["trader"]["email"]
    Balance.objects.filter(user__email=email, user__exchange="kucoin", currency="USDT").update(
        available=Decimal("50000"), trading=Decimal("700")
    )
    preview = services.order_preview(
        connection=connection, base="BTC", quote="USDT", side="buy", type="market", size="0.01"
    )
    assert preview.quote_before == Decimal("700") and preview.quote_after == Decimal("49.35")
    with pytest.raises(TradingRefused) as broke:  # the main account's 50,000 USDT do not trade
        services.order_preview(connection=connection, base="BTC", quote="USDT", side="buy", type="market", size="0.011")
    assert broke.value.reason == "insufficient_balance"


def test_kucoin_order_without_attribution_is_never_sent(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    preview = services.order_preview(
        connection=connection, base="BTC", quote="USDT", side="buy", type="limit", size="0.001", price="60000"
    )
    hooks, api = trading_hooks("kucoin"), clients.connection_api(connection)
    request = hooks.order_request(api, connection, preview.ticket)
    assert hooks.missing_attribution(api, connection, request) == []
    # Tampered: each partner header dropped or altered is seen before sending...
    for name, value in [
        ("KC-API-PARTNER-SIGN", None),
        ("KC-API-PARTNER-VERIFY", "false"),
        ("KC-API-PARTNER", "someone-else"),
        ("KC-BROKER-NAME", None),
        ("KC-API-PARTNER-SIGN", "c2lnbmF0dXJl"),
    ]:
        headers = {k: v for k, v in request.headers.items() if k != name}
        if value is not None:
            headers[name] = value
        tampered = type(request)(method=request.method, path=request.path, body=request.body, headers=headers)
        assert hooks.missing_attribution(api, connection, tampered), name
        # ...and refused by the exchange when sent anyway (KC-API-PARTNER-VERIFY: a bad signature is refused).
        from connectors.kucoin.trading import body_text

        response = requests.post(api.url(request.path), data=body_text(request.body), headers=headers, timeout=10)
        assert response.json()["code"] == "400201", name
    assert SpotOrder.objects.count() == 0
    # A credential whose partner settings were emptied cannot place an order: refused, recorded, audited.
    credential = ExchangeCredential.objects.get(exchange="kucoin")
    credential.settings = {}
    credential.save(update_fields=["settings"])
    with pytest.raises(AttributionMissing) as refused:
        services.order_place(
            connection=connection,
            base="BTC",
            quote="USDT",
            side="buy",
            type="limit",
            size="0.001",
            price="60000",
            client_order_id=preview.ticket.client_order_id,
        )
    assert "KC-API-PARTNER" in refused.value.missing
    row = TradeOrder.objects.get()
    assert row.status == TradeOrder.Status.REFUSED and row.attribution["missing"]
    assert AuditEvent.objects.filter(action="trade.order_unattributed_refused").count() == 1
    assert SpotOrder.objects.count() == 0


def test_kucoin_refuses_without_spot_permission_before_and_at_the_exchange(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin", ["API_COMMON"])
    assert "“Spot trading”" in selectors.trading_capability(connection=connection)
    with pytest.raises(TradingRefused) as refused:
        services.order_preview(
            connection=connection, base="BTC", quote="USDT", side="buy", type="limit", size="0.001", price="60000"
        )
    assert refused.value.reason == "permission"
    hooks, api = trading_hooks("kucoin"), clients.connection_api(connection)
    instrument = hooks.instrument(api, "BTC-USDT")
    from connectors.base.trading import Ticket

    ticket = Ticket(
        instrument=instrument,
        side="buy",
        type="limit",
        size=Decimal("0.001"),
        price=Decimal("60000"),
        client_order_id=hooks.new_client_order_id(api),
    )
    with pytest.raises(TradingRefused) as by_exchange:
        hooks.place(api, connection, ticket)
    assert by_exchange.value.reason == "permission" and "Spot trading" in str(by_exchange.value)


def test_kucoin_refusals_are_clear(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    with pytest.raises(TradingRefused) as unknown:
        services.order_preview(connection=connection, base="NOPE", quote="USDT", side="buy", type="market", size="1")
    assert unknown.value.reason == "unknown_symbol" and "NOPE-USDT" in str(unknown.value)
    with pytest.raises(TradingRefused) as tiny:
        services.order_preview(
            connection=connection, base="BTC", quote="USDT", side="buy", type="market", size="0.000001"
        )
    assert "smallest BTC order is 0.00001" in str(tiny.value)
    with pytest.raises(TradingRefused) as broke:
        services.order_preview(connection=connection, base="BTC", quote="USDT", side="buy", type="market", size="100")
    assert broke.value.reason == "insufficient_balance"
    for size in ("abc", "-1", "0", "NaN", "1e400000"):
        with pytest.raises(TradingRefused):
            services.order_preview(
                connection=connection, base="BTC", quote="USDT", side="buy", type="market", size=size
            )


def test_okx_order_carries_the_broker_code_in_tag_and_client_order_id(browser_session, sandbox_accounts):
    connection = connected_okx(browser_session, sandbox_accounts, ["read_only", "trade"])
    code = ExchangeCredential.objects.get(exchange="okx").settings["broker_code"]
    instrument = services.instrument_get(connection=connection, base="ETH", quote="USDT")
    assert (instrument.symbol, instrument.price_tick, instrument.size_step) == (
        "ETH-USDT",
        Decimal("0.01"),
        Decimal("0.0000001"),
    )
    preview = services.order_preview(
        connection=connection, base="ETH", quote="USDT", side="sell", type="limit", size="0.5", price="3500.005"
    )
    # A sell rounds its price up (never less than typed); resting, it pays OKX's maker rate.
    assert preview.ticket.price == Decimal("3500.01") and preview.fee_rate == Decimal("0.0008")
    assert preview.ticket.client_order_id.startswith(code) and len(preview.ticket.client_order_id) == 32
    order = place(connection, base="ETH", quote="USDT", side="sell", type="limit", size="0.5", price="3500.005")
    assert order.status == TradeOrder.Status.OPEN
    assert order.attribution == {"tag": code, "clOrdId": order.client_order_id}
    assert SpotOrder.objects.get(order_id=order.exchange_order_id).attribution == {"tag": code}
    hooks, api = trading_hooks("okx"), clients.connection_api(connection)
    remote = hooks.order(api, connection, "ETH-USDT", order.exchange_order_id)
    assert remote.attribution == {"tag": code} and hooks.attributed(api, remote)
    services.order_cancel(order=order)
    assert TradeOrder.objects.get(pk=order.pk).status == TradeOrder.Status.CANCELLED

    bought = place(connection, base="BTC", quote="USDT", side="buy", type="market", size="0.01")
    assert bought.status == TradeOrder.Status.FILLED and bought.filled_funds == Decimal("650")
    assert bought.fee == Decimal("0.65") and bought.fee_currency == "USDT"
    assert [(f.size, f.fee) for f in services.order_refresh(order=bought)] == [(Decimal("0.01"), Decimal("0.65"))]

    # Tampered: the tag or the client order id without the code is seen before sending.
    request = hooks.order_request(api, connection, preview.ticket)
    assert hooks.missing_attribution(api, connection, request) == []
    for body in (
        {**request.body, "tag": "someone"},
        {**request.body, "clOrdId": "x" * 32},
        {k: v for k, v in request.body.items() if k != "tag"},
    ):
        tampered = type(request)(method=request.method, path=request.path, body=body)
        assert hooks.missing_attribution(api, connection, tampered)


def test_okx_read_only_key_cannot_trade(browser_session, sandbox_accounts):
    connection = connected_okx(browser_session, sandbox_accounts, ["read_only"])
    assert "“Trade”" in selectors.trading_capability(connection=connection)
    hooks, api = trading_hooks("okx"), clients.connection_api(connection)
    from connectors.base.trading import Ticket

    ticket = Ticket(
        instrument=hooks.instrument(api, "BTC-USDT"),
        side="buy",
        type="limit",
        size=Decimal("0.001"),
        price=Decimal("60000"),
        client_order_id=hooks.new_client_order_id(api),
    )
    with pytest.raises(TradingRefused) as refused:
        hooks.place(api, connection, ticket)
    assert refused.value.reason == "permission" and "Trade" in str(refused.value)


def test_kraken_limit_order_placed_read_back_and_cancelled(browser_session, sandbox_accounts):
    connection = connected_kraken(browser_session, sandbox_accounts, KRAKEN_TRADING)
    instrument = services.instrument_get(connection=connection, base="BTC", quote="USDT")
    assert (instrument.symbol, instrument.base, instrument.quote, instrument.size_step, instrument.min_size) == (
        "XBTUSDT",
        "BTC",
        "USDT",
        Decimal("1E-8"),
        Decimal("0.00001"),
    )
    preview = services.order_preview(
        connection=connection, base="BTC", quote="USDT", side="buy", type="limit", size="0.01", price="60000"
    )
    assert preview.fee_rate == Decimal("0.0025") and preview.fee == Decimal("1.5")  # Kraken's maker rate, in %
    order = place(connection, base="BTC", quote="USDT", side="buy", type="limit", size="0.01", price="60000")
    assert order.status == TradeOrder.Status.OPEN and order.exchange_order_id.startswith("O")
    assert order.attribution["api_key_name"] and order.attribution["broker"] == ""
    hooks, api = trading_hooks("kraken"), clients.connection_api(connection)
    assert [o.order_id for o in hooks.open_orders(api, connection, "XBTUSDT")] == [order.exchange_order_id]
    services.order_cancel(order=order)
    assert TradeOrder.objects.get(pk=order.pk).status == TradeOrder.Status.CANCELLED
    assert [o.status for o in hooks.order_history(api, connection, "XBTUSDT")] == ["cancelled"]

    sold = place(connection, base="SOL", quote="USDT", side="sell", type="market", size="2")
    assert sold.status == TradeOrder.Status.FILLED and sold.filled_funds == Decimal("300")
    assert [(f.size, f.fee) for f in services.order_refresh(order=sold)] == [(Decimal("2"), Decimal("1.2"))]

    # A broker id, where the broker set one, goes on every order; a request without it is never sent.
    credential = ExchangeCredential.objects.get(exchange="kraken")
    credential.settings = {**credential.settings, "broker": "portal-broker"}
    credential.save(update_fields=["settings"])
    api = clients.connection_api(connection)
    request = hooks.order_request(api, connection, preview.ticket)
    assert request.body["broker"] == "portal-broker" and hooks.missing_attribution(api, connection, request) == []
    tampered = type(request)(
        method=request.method,
        path=request.path,
        body={k: v for k, v in request.body.items() if k != "broker"},
        attribution=request.attribution,
    )
    assert hooks.missing_attribution(api, connection, tampered) == ["broker is not the broker's id"]


def test_kraken_key_without_trade_permission_is_refused(browser_session, sandbox_accounts):
    connection = connected_kraken(
        browser_session, sandbox_accounts, [p for p in KRAKEN_TRADING if not p.endswith("trades-modify")]
    )
    assert "“Trade”" in selectors.trading_capability(connection=connection)


def test_kucoin_lost_answers_lose_no_order(browser_session, sandbox_accounts, settings):
    import time

    from connectors.base.http import ExchangeUnavailable
    from sandbox.faults import fault_set

    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    ticket = {"base": "BTC", "quote": "USDT", "side": "buy", "type": "limit", "size": "0.001", "price": "60000"}
    # 429: the exchange took nothing; the order is refused and says so.
    fault_set(exchange="kucoin", endpoint="hf-orders", kind="429", count=1)
    with pytest.raises(ExchangeUnavailable):
        place(connection, **ticket)
    refused = TradeOrder.objects.get()
    assert refused.status == TradeOrder.Status.REFUSED and "nothing was placed" in refused.error
    assert SpotOrder.objects.count() == 0
    # 500: the exchange may or may not have it: unknown, and still unknown while it has none.
    fault_set(exchange="kucoin", endpoint="hf-orders", kind="500", count=1)
    with pytest.raises(ExchangeUnavailable):
        place(connection, **ticket)
    unknown = TradeOrder.objects.get(status=TradeOrder.Status.UNKNOWN)
    assert unknown.attribution["verify"] == "true"
    assert services.order_refresh(order=unknown) == [] and unknown.status == TradeOrder.Status.UNKNOWN
    # An answer too slow to wait for: the order was placed; the five-minute sweep (or the order's page) finds it
    # by its client order id.
    settings.EXCHANGE_HTTP_TIMEOUT = (5, 1)
    fault_set(exchange="kucoin", endpoint="hf-orders", kind="slow", delay_seconds=2, count=1)
    with pytest.raises(ExchangeUnavailable):
        place(connection, **ticket)
    lost = TradeOrder.objects.filter(status=TradeOrder.Status.UNKNOWN).latest("pk")
    for _ in range(50):
        if SpotOrder.objects.filter(client_order_id=lost.client_order_id).exists():
            break
        time.sleep(0.1)
    from trading import tasks

    assert tasks.orders_unknown_resolve_all() == {"found": 1, "still_unknown": 1, "failed": 0}
    lost.refresh_from_db()
    assert lost.status == TradeOrder.Status.OPEN and lost.exchange_order_id == SpotOrder.objects.get().order_id
    assert AuditEvent.objects.filter(action="trade.order_placed", details__found_by_client_order_id=True).count() == 1
