"""Kraken: spot orders through the private REST methods, with the Fast API key the broker's application created.

Sources (level A): krakenfx/api-specs spot-rest/openapi_v3.yaml and its schemas: AddOrder (pair, type, ordertype,
volume, price, cl_ord_id: a UUID or up to 18 characters of free text; "Orders and trades - Create & modify orders"),
CancelOrder (txid), QueryOrders, OpenOrders, ClosedOrders ("Query open/closed orders & trades"), QueryTrades,
TradeVolume (fees in percent; "Funds permissions - Query") and public AssetPairs (lot_decimals, tick_size,
ordermin, costmin). The Fast API key's permissions are the scopes ...:trades-modify, ...:trades-query-open,
...:trades-query-closed and ...:funds-query (oauth/openapi_v3.yaml). Kraken's spec has no per-order attribution:
the key itself is the broker's (its Connect application made it), and the optional ``broker`` parameter is a
credential setting (connectors/kraken/credential.py, level C). Kraken reports no attribution on an order."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from connectors.base.api import ExchangeAPIError, decimal_or_none
from connectors.base.trading import (
    LIMIT,
    ExchangeTrading,
    FeeRate,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    Ticket,
    TradingRefused,
)

from .client import ASSET_CODES, KEY_NAME_DETAIL, KRAKEN_CODES, SCOPE_PREFIX

STATUSES = {"pending": "open", "open": "open", "closed": "filled", "canceled": "cancelled", "expired": "cancelled"}
REASONS = {
    "EGeneral:Permission denied": (TradingRefused.PERMISSION, "this connection's key lacks the trading permissions."),
    "EOrder:Insufficient funds": (TradingRefused.INSUFFICIENT, "the balance is insufficient for this order."),
    "EQuery:Unknown asset pair": (TradingRefused.UNKNOWN_SYMBOL, "it does not list this pair."),
    "EOrder:Unknown order": (TradingRefused.NOT_FOUND, "it does not know this order (or it is closed)."),
}


def portal_code(asset: str) -> str:
    return ASSET_CODES.get(asset, asset)


def refusal(error: ExchangeAPIError) -> ExchangeAPIError:
    if isinstance(error, TradingRefused):
        return error
    reason, text = REASONS.get(error.code, (TradingRefused.INVALID, str(error)))
    return TradingRefused(f"Kraken refused: {text}", reason=reason, code=error.code)


def seconds_datetime(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


class KrakenTrading(ExchangeTrading):
    permissions = tuple(
        SCOPE_PREFIX + name for name in ("trades-modify", "trades-query-open", "trades-query-closed", "funds-query")
    )
    attribution_name = "the broker's Fast API key (and its broker id, where Kraken issued one)"

    def call(self, api, connection, method, params=None):
        try:
            return api.private(connection, method, params)
        except ExchangeAPIError as error:
            raise refusal(error) from error

    def symbol_for(self, base, quote):
        return f"{KRAKEN_CODES.get(base, base)}{KRAKEN_CODES.get(quote, quote)}"

    def instrument(self, api, symbol):
        payload = api.public_get("/0/public/AssetPairs", {"pair": symbol})
        result = payload.get("result") if not payload.get("error") else None
        item = next(iter(result.values()), None) if isinstance(result, dict) and result else None
        if not isinstance(item, dict):
            raise TradingRefused(f"Kraken does not list {symbol}.", reason=TradingRefused.UNKNOWN_SYMBOL)
        tick, minimum = decimal_or_none(item.get("tick_size")), decimal_or_none(item.get("ordermin"))
        lot = item.get("lot_decimals")
        if not tick or not minimum or not isinstance(lot, int) or tick <= 0 or minimum <= 0:
            raise ExchangeAPIError(f"Kraken's pair {symbol} had no usable increments.")
        return Instrument(
            symbol=item.get("altname") or symbol,
            base=portal_code(item.get("base", "")),
            quote=portal_code(item.get("quote", "")),
            price_tick=tick,
            size_step=Decimal(1).scaleb(-lot),
            min_size=minimum,
            min_funds=decimal_or_none(item.get("costmin")),
        )

    def last_price(self, api, instrument):
        payload = api.public_get("/0/public/Ticker", {"pair": instrument.symbol})
        ticker = next(iter((payload.get("result") or {}).values()), None) or {}
        price = decimal_or_none((ticker.get("c") or [None])[0])
        if price is None:
            raise ExchangeAPIError(f"Kraken gave no price for {instrument.symbol}.")
        return price

    def fee_rate(self, api, connection, instrument):
        result = self.call(api, connection, "TradeVolume", {"pair": instrument.symbol})
        taker = decimal_or_none(((result.get("fees") or {}).get(instrument.symbol) or {}).get("fee"))
        maker = decimal_or_none(((result.get("fees_maker") or {}).get(instrument.symbol) or {}).get("fee"))
        if taker is None:
            raise ExchangeAPIError("Kraken gave no fee rate.")
        return FeeRate(maker=(maker if maker is not None else taker) / 100, taker=taker / 100)  # percent

    def new_client_order_id(self, api):
        return uuid.uuid4().hex  # the short UUID form of cl_ord_id

    def order_request(self, api, connection, ticket: Ticket):
        params = {
            "pair": ticket.instrument.symbol,
            "type": ticket.side,
            "ordertype": ticket.type,
            "volume": format(ticket.size, "f"),
            "cl_ord_id": ticket.client_order_id,
        }
        if ticket.type == LIMIT:
            params["price"] = format(ticket.price, "f")
        if api.settings.get("broker"):
            params["broker"] = api.settings["broker"]
        key_name = (connection.details or {}).get(KEY_NAME_DETAIL, "")
        return OrderRequest(
            method="POST",
            path="/0/private/AddOrder",
            body=params,
            attribution={"api_key_name": key_name, "broker": params.get("broker", "")},
        )

    def missing_attribution(self, api, connection, request):
        missing = []
        if not request.attribution.get("api_key_name"):
            missing.append("the connection's key is not one the broker's Kraken Connect application created")
        if api.settings.get("broker") and (request.body or {}).get("broker") != api.settings["broker"]:
            missing.append("broker is not the broker's id")
        return missing

    def send(self, api, connection, request):
        result = self.call(api, connection, "AddOrder", request.body)
        txids = result.get("txid") if isinstance(result, dict) else None
        if not isinstance(txids, list) or not txids or not isinstance(txids[0], str):
            raise ExchangeAPIError("Kraken's answer to the order had no txid.")
        return txids[0]

    def cancel(self, api, connection, symbol, order_id):
        self.call(api, connection, "CancelOrder", {"txid": order_id})

    def order(self, api, connection, symbol, order_id):
        result = self.call(api, connection, "QueryOrders", {"txid": order_id, "trades": "true"})
        if order_id not in (result or {}):
            raise TradingRefused("Kraken does not know this order.", reason=TradingRefused.NOT_FOUND)
        return parse_order(order_id, result[order_id])

    def order_by_client_id(self, api, connection, symbol, client_order_id):
        # OpenOrders and ClosedOrders report each order's cl_ord_id.
        found = [*self.open_orders(api, connection, symbol), *self.order_history(api, connection, symbol)]
        return next((order for order in found if order.client_order_id == client_order_id), None)

    def fills(self, api, connection, symbol, order_id):
        info = self.call(api, connection, "QueryOrders", {"txid": order_id, "trades": "true"}).get(order_id) or {}
        trade_ids = [txid for txid in info.get("trades") or [] if isinstance(txid, str)]
        if not trade_ids:
            return []
        trades = self.call(api, connection, "QueryTrades", {"txid": ",".join(trade_ids[:20])})
        return [
            Fill(
                trade_id=txid,
                price=decimal_or_none(item.get("price")) or Decimal(0),
                size=decimal_or_none(item.get("vol")) or Decimal(0),
                fee=decimal_or_none(item.get("fee")) or Decimal(0),
                fee_currency=portal_quote(symbol),
                at=seconds_datetime(item.get("time")),
            )
            for txid, item in (trades or {}).items()
            if isinstance(item, dict)
        ]

    def open_orders(self, api, connection, symbol):
        found = (self.call(api, connection, "OpenOrders") or {}).get("open") or {}
        return [order for order in (parse_order(txid, item) for txid, item in found.items()) if order.symbol == symbol]

    def order_history(self, api, connection, symbol):
        found = (self.call(api, connection, "ClosedOrders") or {}).get("closed") or {}
        return [order for order in (parse_order(txid, item) for txid, item in found.items()) if order.symbol == symbol]

    def all_open_orders(self, api, connection, symbols):
        # OpenOrders and ClosedOrders (``start``: seconds) cover every pair.
        found = (self.call(api, connection, "OpenOrders") or {}).get("open") or {}
        return [parse_order(txid, item) for txid, item in found.items()]

    def recent_orders(self, api, connection, since, symbols):
        found = (self.call(api, connection, "ClosedOrders", {"start": int(since.timestamp())}) or {}).get("closed")
        return [
            *self.all_open_orders(api, connection, symbols),
            *(parse_order(txid, item) for txid, item in (found or {}).items()),
        ]


def portal_quote(symbol: str) -> str:
    """Kraken charges its fee in the quote currency by default (oflags fciq); the pair's last part."""
    for code in ("USDT", "USD", "EUR", "XBT"):
        if symbol.endswith(code):
            return portal_code(code)
    return ""


def parse_order(txid: str, item) -> Order:
    if not isinstance(item, dict):
        raise ExchangeAPIError("Kraken's order answer was not an order.")
    descr = item.get("descr") or {}
    filled = decimal_or_none(item.get("vol_exec")) or Decimal(0)
    price = decimal_or_none(descr.get("price"))
    symbol = descr.get("pair", "")
    return Order(
        order_id=txid,
        client_order_id=item.get("cl_ord_id") or "",
        symbol=symbol,
        side=descr.get("type", ""),
        type=descr.get("ordertype", ""),
        size=decimal_or_none(item.get("vol")) or Decimal(0),
        price=price if price else None,
        status=STATUSES.get(item.get("status"), "open")
        if not (item.get("status") == "open" and filled)
        else "partially_filled",
        filled_size=filled,
        filled_funds=decimal_or_none(item.get("cost")) or Decimal(0),
        fee=decimal_or_none(item.get("fee")) or Decimal(0),
        fee_currency=portal_quote(symbol),
        created_at=seconds_datetime(item.get("opentm")),
    )


TRADING = KrakenTrading()
