"""OKX: spot orders (cash mode) with the broker's code in ``tag`` and at the start of the client order id.

Sources (level A): okxapi/python-okx okx/Trade.py (place_order POST /api/v5/trade/order with instId, tdMode, side,
ordType, sz, px, clOrdId, tag, tgtCcy; cancel_order POST /api/v5/trade/cancel-order; get_order GET
/api/v5/trade/order; get_order_list GET /api/v5/trade/orders-pending; get_orders_history GET
/api/v5/trade/orders-history; get_fills GET /api/v5/trade/fills), okx/PublicData.py (get_instruments: tickSz,
lotSz, minSz), okx/Account.py (get_fee_rates GET /api/v5/account/trade-fee: negative rates are fees charged) and
OKX's docs-v5 for the fields (state live/partially_filled/filled/canceled; tag and clOrdId up to 16 and 32
alphanumerics). A Fast API key needs perm "trade" to place and cancel (okx/builder-integration-demo
INTEGRATION_GUIDE.md step 5). OKX reports ``tag`` on each order, so the read-back proves the attribution."""

from decimal import Decimal
from urllib.parse import urlencode

from connectors.base.api import ExchangeAPIError, decimal_or_none
from connectors.base.trading import (
    LIMIT,
    MARKET,
    ExchangeTrading,
    FeeRate,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    Ticket,
    TradingRefused,
    client_order_id,
    ms_datetime,
)

from .client import PERMISSION_DENIED
from .credential import BROKER_CODE

STATES = {
    "live": "open",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "canceled": "cancelled",
    "mmp_canceled": "cancelled",
}
# OKX's error codes (docs-v5 error code table): 51008 insufficient balance, 51001 instrument does not exist,
# 51603 order does not exist, 51400 cancellation failed (the order is no longer open).
INSUFFICIENT, UNKNOWN_INSTRUMENT, NO_ORDER, NOT_CANCELLABLE = "51008", "51001", "51603", "51400"
CL_ORD_ID_LENGTH = 32


def refusal(error: ExchangeAPIError) -> ExchangeAPIError:
    if isinstance(error, TradingRefused):
        return error
    reasons = {
        PERMISSION_DENIED: (TradingRefused.PERMISSION, "this connection's key lacks the “Trade” permission."),
        INSUFFICIENT: (TradingRefused.INSUFFICIENT, "the balance is insufficient for this order."),
        UNKNOWN_INSTRUMENT: (TradingRefused.UNKNOWN_SYMBOL, "it does not list this pair."),
        NO_ORDER: (TradingRefused.NOT_FOUND, "it does not know this order."),
        NOT_CANCELLABLE: (TradingRefused.INVALID, "the order is no longer open."),
    }
    reason, text = reasons.get(error.code, (TradingRefused.INVALID, str(error)))
    return TradingRefused(f"OKX refused: {text}", reason=reason, code=error.code)


class OKXTrading(ExchangeTrading):
    permissions = ("trade",)
    attribution_name = "broker code in tag"
    attribution_readable = True

    def broker_code(self, api) -> str:
        return api.settings.get("broker_code", "")

    def call(self, api, connection, method, path, body=None):
        try:
            return api.signed(connection, method, path, body)
        except ExchangeAPIError as error:
            raise refusal(error) from error

    def instrument(self, api, symbol):
        payload = api.public_get("/api/v5/public/instruments", {"instType": "SPOT", "instId": symbol})
        item = next(iter(payload.get("data") or []), None) if payload.get("code") == "0" else None
        if not isinstance(item, dict):
            raise TradingRefused(
                f"OKX does not list {symbol}.", reason=TradingRefused.UNKNOWN_SYMBOL, code=str(payload.get("code", ""))
            )
        tick, lot, minimum = (decimal_or_none(item.get(name)) for name in ("tickSz", "lotSz", "minSz"))
        if not tick or not lot or not minimum or min(tick, lot, minimum) <= 0:
            raise ExchangeAPIError(f"OKX's instrument {symbol} had no usable increments.")
        return Instrument(
            symbol=item.get("instId") or symbol,
            base=item.get("baseCcy", ""),
            quote=item.get("quoteCcy", ""),
            price_tick=tick,
            size_step=lot,
            min_size=minimum,
        )

    def last_price(self, api, instrument):
        payload = api.public_get("/api/v5/market/ticker", {"instId": instrument.symbol})
        price = decimal_or_none((next(iter(payload.get("data") or []), None) or {}).get("last"))
        if price is None:
            raise ExchangeAPIError(f"OKX gave no price for {instrument.symbol}.")
        return price

    def fee_rate(self, api, connection, instrument):
        rows = self.call(
            api,
            connection,
            "GET",
            f"/api/v5/account/trade-fee?{urlencode({'instType': 'SPOT', 'instId': instrument.symbol})}",
        )
        row = next(iter(rows or []), None) or {}
        maker, taker = decimal_or_none(row.get("maker")), decimal_or_none(row.get("taker"))
        if maker is None or taker is None:
            raise ExchangeAPIError("OKX gave no fee rate.")
        return FeeRate(maker=-maker, taker=-taker)  # negative: a fee charged (positive would be a rebate)

    def new_client_order_id(self, api):
        # The client order id keeps the broker code too, so an order found elsewhere still shows whose it is.
        return client_order_id(prefix=self.broker_code(api), length=CL_ORD_ID_LENGTH)

    def order_request(self, api, connection, ticket: Ticket):
        body = {
            "instId": ticket.instrument.symbol,
            "tdMode": "cash",
            "side": ticket.side,
            "ordType": ticket.type,
            "sz": format(ticket.size, "f"),
            "clOrdId": ticket.client_order_id,
            "tag": self.broker_code(api),
        }
        if ticket.type == LIMIT:
            body["px"] = format(ticket.price, "f")
        if ticket.type == MARKET:
            body["tgtCcy"] = "base_ccy"  # the size is in the base currency (a market buy's default is the quote)
        return OrderRequest(
            method="POST",
            path="/api/v5/trade/order",
            body=body,
            attribution={"tag": body["tag"], "clOrdId": body["clOrdId"]},
        )

    def missing_attribution(self, api, connection, request):
        code, body = self.broker_code(api), request.body or {}
        missing = []
        if not code or not BROKER_CODE.match(code):
            missing.append("the tenant's OKX broker code")
        if not code or body.get("tag") != code:
            missing.append("tag is not the broker code")
        if not code or not str(body.get("clOrdId", "")).startswith(code):
            missing.append("clOrdId does not start with the broker code")
        return missing

    def send(self, api, connection, request):
        rows = self.call(api, connection, request.method, request.path, request.body)
        item = next(iter(rows or []), None) or {}
        if not item.get("ordId"):
            raise ExchangeAPIError("OKX's answer to the order had no ordId.")
        return str(item["ordId"])

    def cancel(self, api, connection, symbol, order_id):
        self.call(api, connection, "POST", "/api/v5/trade/cancel-order", {"instId": symbol, "ordId": order_id})

    def order(self, api, connection, symbol, order_id):
        rows = self.call(
            api, connection, "GET", f"/api/v5/trade/order?{urlencode({'instId': symbol, 'ordId': order_id})}"
        )
        return parse_order(next(iter(rows or []), None))

    def order_by_client_id(self, api, connection, symbol, client_order_id):
        try:
            rows = self.call(
                api,
                connection,
                "GET",
                "/api/v5/trade/order?" + urlencode({"instId": symbol, "clOrdId": client_order_id}),
            )
        except TradingRefused as refused:
            if refused.reason == TradingRefused.NOT_FOUND:
                return None
            raise
        item = next(iter(rows or []), None)
        return parse_order(item) if item else None

    def fills(self, api, connection, symbol, order_id):
        rows = self.call(
            api,
            connection,
            "GET",
            "/api/v5/trade/fills?" + urlencode({"instType": "SPOT", "instId": symbol, "ordId": order_id}),
        )
        return [
            Fill(
                trade_id=str(item.get("tradeId", "")),
                price=decimal_or_none(item.get("fillPx")) or Decimal(0),
                size=decimal_or_none(item.get("fillSz")) or Decimal(0),
                fee=-(decimal_or_none(item.get("fee")) or Decimal(0)),
                fee_currency=item.get("feeCcy", ""),
                at=ms_datetime(item.get("ts")),
            )
            for item in rows or []
            if isinstance(item, dict)
        ]

    def open_orders(self, api, connection, symbol):
        rows = self.call(
            api, connection, "GET", "/api/v5/trade/orders-pending?" + urlencode({"instType": "SPOT", "instId": symbol})
        )
        return [parse_order(item) for item in rows or [] if isinstance(item, dict)]

    def order_history(self, api, connection, symbol):
        rows = self.call(
            api, connection, "GET", "/api/v5/trade/orders-history?" + urlencode({"instType": "SPOT", "instId": symbol})
        )
        return [parse_order(item) for item in rows or [] if isinstance(item, dict)]

    def all_open_orders(self, api, connection, symbols):
        # Without instId, orders-pending covers every spot pair.
        pending = self.call(api, connection, "GET", "/api/v5/trade/orders-pending?" + urlencode({"instType": "SPOT"}))
        return [parse_order(item) for item in pending or [] if isinstance(item, dict)]

    def recent_orders(self, api, connection, since, symbols):
        # Without instId, orders-history covers every spot pair too; it takes begin (ms) within its 7 days.
        history = self.call(
            api,
            connection,
            "GET",
            "/api/v5/trade/orders-history?" + urlencode({"instType": "SPOT", "begin": int(since.timestamp() * 1000)}),
        )
        return [
            *self.all_open_orders(api, connection, symbols),
            *(parse_order(item) for item in history or [] if isinstance(item, dict)),
        ]

    def attributed(self, api, order):
        code = self.broker_code(api)
        return bool(code) and order.attribution.get("tag") == code


def parse_order(item) -> Order:
    if not isinstance(item, dict) or not item.get("ordId"):
        raise ExchangeAPIError("OKX's order answer had no ordId.")
    filled = decimal_or_none(item.get("accFillSz")) or Decimal(0)
    average = decimal_or_none(item.get("avgPx")) or Decimal(0)
    return Order(
        order_id=str(item["ordId"]),
        client_order_id=item.get("clOrdId") or "",
        symbol=item.get("instId", ""),
        side=item.get("side", ""),
        type=item.get("ordType", ""),
        size=decimal_or_none(item.get("sz")) or Decimal(0),
        price=decimal_or_none(item.get("px")),
        status=STATES.get(item.get("state"), "open"),
        filled_size=filled,
        filled_funds=filled * average,
        fee=-(decimal_or_none(item.get("fee")) or Decimal(0)),
        fee_currency=item.get("feeCcy") or "",
        created_at=ms_datetime(item.get("cTime")),
        attribution={"tag": item.get("tag") or ""},
    )


TRADING = OKXTrading()
