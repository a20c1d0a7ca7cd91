"""KuCoin: spot orders on the high-frequency order API, each with the broker's partner headers.

Sources (level A): Kucoin/kucoin-universal-sdk spec/rest/api/openapi-spot-order.json ("Add Order" POST
/api/v1/hf/orders and "Cancel Order By OrderId" need the "Spot" permission; "Get Order By OrderId", "Get Open
Orders", "Get Closed Orders" and "Get Trade History" /api/v1/hf/fills need "General"), openapi-spot-market.json
("Get Symbol" GET /api/v2/symbols/{symbol}: priceIncrement, baseIncrement, baseMinSize, minFunds; "Get Ticker" level1)
and openapi-account-fee.json ("Get Actual Fee - Spot/Margin" GET /api/v1/trade-fees?symbols=). HF orders trade from
the high-frequency trading account, so the preview reads that account's balances: "List high-frequency trading
accounts" GET /api/v1/accounts?type=trade_hf ("General"; Kucoin/kucoin-api-docs-hf). The partner headers:
KuCoin's broker docs and SDKs (EVIDENCE.md): with KC-API-PARTNER-VERIFY: true KuCoin refuses a bad partner
signature instead of taking the order unattributed. KuCoin reports no attribution on an order, so the read-back can
only tell the portal's own orders (their clientOid) from others."""

import json
from decimal import Decimal
from urllib.parse import quote, urlencode

from connectors.base.api import Balance, ExchangeAPIError, decimal_or_none, json_or_empty
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
    client_order_id,
    ms_datetime,
)

from .client import PERMISSION_DENIED_CODE, hmac_b64, sign_headers

ORDER_PATH = "/api/v1/hf/orders"
HF_ACCOUNT_TYPE = "trade_hf"  # the account HF orders trade from ("Order placement", Kucoin/kucoin-api-docs-hf)
PARTNER_HEADERS = ("KC-API-PARTNER", "KC-BROKER-NAME", "KC-API-PARTNER-VERIFY", "KC-API-PARTNER-SIGN")
# "Balance insufficient!" (KuCoin's error table).
INSUFFICIENT_BALANCE_CODE = "200004"
CLIENT_OID_LENGTH = 32  # clientOid: at most 40 characters (openapi-spot-order.json); the portal sends 32


def order_status(item: dict) -> str:
    """KuCoin reports active, cancelExist and dealSize, not a status."""
    dealt = decimal_or_none(item.get("dealSize")) or Decimal(0)
    if item.get("active"):
        return "partially_filled" if dealt else "open"
    if dealt and dealt >= (decimal_or_none(item.get("size")) or Decimal(0)):
        return "filled"
    return "cancelled" if item.get("cancelExist") or not dealt else "filled"


class KuCoinTrading(ExchangeTrading):
    permissions = ("API_SPOT", "API_COMMON")
    attribution_name = "partner headers (KC-API-PARTNER, KC-BROKER-NAME, KC-API-PARTNER-SIGN, verify on)"

    def instrument(self, api, symbol):
        payload = api.public_get(f"/api/v2/symbols/{quote(symbol, safe='')}")
        data = payload.get("data") if payload.get("code") == "200000" else None
        if not isinstance(data, dict):
            raise TradingRefused(
                f"KuCoin does not list {symbol}.",
                reason=TradingRefused.UNKNOWN_SYMBOL,
                code=str(payload.get("code", "")),
            )
        increments = [decimal_or_none(data.get(name)) for name in ("priceIncrement", "baseIncrement", "baseMinSize")]
        if any(value is None or value <= 0 for value in increments):
            raise ExchangeAPIError(f"KuCoin's symbol {symbol} had no usable increments.")
        return Instrument(
            symbol=data.get("symbol") or symbol,
            base=data.get("baseCurrency", ""),
            quote=data.get("quoteCurrency", ""),
            price_tick=increments[0],
            size_step=increments[1],
            min_size=increments[2],
            min_funds=decimal_or_none(data.get("minFunds")),
        )

    def last_price(self, api, instrument):
        payload = api.public_get("/api/v1/market/orderbook/level1", {"symbol": instrument.symbol})
        price = decimal_or_none((payload.get("data") or {}).get("price"))
        if price is None:
            raise ExchangeAPIError(f"KuCoin gave no price for {instrument.symbol}.")
        return price

    def fee_rate(self, api, connection, instrument):
        rows = self.signed(api, connection, "GET", f"/api/v1/trade-fees?{urlencode({'symbols': instrument.symbol})}")
        row = next((row for row in rows or [] if isinstance(row, dict) and row.get("symbol") == instrument.symbol), {})
        maker, taker = decimal_or_none(row.get("makerFeeRate")), decimal_or_none(row.get("takerFeeRate"))
        if maker is None or taker is None:
            raise ExchangeAPIError(f"KuCoin gave no fee rate for {instrument.symbol}.")
        return FeeRate(maker=maker, taker=taker)

    def balances(self, api, connection):
        rows = self.signed(api, connection, "GET", f"/api/v1/accounts?{urlencode({'type': HF_ACCOUNT_TYPE})}")
        return [
            Balance(
                row["currency"],
                decimal_or_none(row.get("available")) or Decimal(0),
                decimal_or_none(row.get("balance")) or Decimal(0),
            )
            for row in rows or []
            if isinstance(row, dict) and row.get("type") == HF_ACCOUNT_TYPE and row.get("currency")
        ]

    def new_client_order_id(self, api):
        return client_order_id(length=CLIENT_OID_LENGTH)

    def order_request(self, api, connection, ticket: Ticket):
        body = {
            "clientOid": ticket.client_order_id,
            "side": ticket.side,
            "symbol": ticket.instrument.symbol,
            "type": ticket.type,
            "size": format(ticket.size, "f"),
        }
        if ticket.type == LIMIT:
            body.update({"price": format(ticket.price, "f"), "timeInForce": "GTC"})
        headers = sign_headers(
            api_key=connection.api_key,
            secret=connection.api_secret,
            passphrase=connection.api_passphrase,
            method="POST",
            path_with_query=ORDER_PATH,
            body=body_text(body),
            partner=api.partner,
            broker_name=api.broker_name,
            broker_key=api.broker_key,
        )
        attribution = {
            "partner": headers.get("KC-API-PARTNER", ""),
            "broker_name": headers.get("KC-BROKER-NAME", ""),
            "verify": headers.get("KC-API-PARTNER-VERIFY", ""),
            "partner_sign": "present" if headers.get("KC-API-PARTNER-SIGN") else "",
        }
        return OrderRequest(method="POST", path=ORDER_PATH, body=body, headers=headers, attribution=attribution)

    def missing_attribution(self, api, connection, request):
        headers = request.headers
        missing = [name for name in PARTNER_HEADERS if not headers.get(name)]
        if headers.get("KC-API-PARTNER") != api.partner or not api.partner:
            missing.append("KC-API-PARTNER is not this broker's partner id")
        if headers.get("KC-BROKER-NAME") != api.broker_name or headers.get("KC-BROKER-NAME") == api.partner:
            missing.append("KC-BROKER-NAME is not this broker's name")
        if headers.get("KC-API-PARTNER-VERIFY") != "true":
            missing.append("KC-API-PARTNER-VERIFY is not true")
        expected = (
            hmac_b64(api.broker_key, f"{headers.get('KC-API-TIMESTAMP', '')}{api.partner}{connection.api_key}")
            if api.broker_key
            else None
        )
        if headers.get("KC-API-PARTNER-SIGN") != expected:
            missing.append("KC-API-PARTNER-SIGN does not match the broker key")
        return list(dict.fromkeys(missing))

    def send(self, api, connection, request):
        with api.session() as session:
            response = session.request(
                request.method, api.url(request.path), data=body_text(request.body), headers=request.headers
            )
        data = answer_data(json_or_empty(response), response.status_code)
        if not isinstance(data, dict) or not data.get("orderId"):
            raise ExchangeAPIError("KuCoin's answer to the order had no orderId.")
        return str(data["orderId"])

    def signed(self, api, connection, method, path_with_query):
        try:
            return api.signed(connection, method, path_with_query)
        except TradingRefused:
            raise
        except ExchangeAPIError as error:
            raise refusal(error) from error

    def cancel(self, api, connection, symbol, order_id):
        self.signed(
            api, connection, "DELETE", f"{ORDER_PATH}/{quote(order_id, safe='')}?{urlencode({'symbol': symbol})}"
        )

    def order(self, api, connection, symbol, order_id):
        item = self.signed(
            api, connection, "GET", f"{ORDER_PATH}/{quote(order_id, safe='')}?{urlencode({'symbol': symbol})}"
        )
        return parse_order(item)

    def order_by_client_id(self, api, connection, symbol, client_order_id):
        # "Get Order By ClientOid" GET /api/v1/hf/orders/client-order/{clientOid}?symbol= (openapi-spot-order.json).
        try:
            item = self.signed(
                api,
                connection,
                "GET",
                f"{ORDER_PATH}/client-order/{quote(client_order_id, safe='')}?{urlencode({'symbol': symbol})}",
            )
        except TradingRefused as refused:
            if refused.reason == TradingRefused.NOT_FOUND:
                return None
            raise
        return parse_order(item) if item else None

    def fills(self, api, connection, symbol, order_id):
        data = self.signed(
            api, connection, "GET", f"/api/v1/hf/fills?{urlencode({'symbol': symbol, 'orderId': order_id})}"
        )
        return [
            Fill(
                trade_id=str(item.get("tradeId", "")),
                price=decimal_or_none(item.get("price")) or Decimal(0),
                size=decimal_or_none(item.get("size")) or Decimal(0),
                fee=decimal_or_none(item.get("fee")) or Decimal(0),
                fee_currency=item.get("feeCurrency", ""),
                at=ms_datetime(item.get("createdAt")),
            )
            for item in (data or {}).get("items") or []
            if isinstance(item, dict)
        ]

    def open_orders(self, api, connection, symbol):
        items = self.signed(api, connection, "GET", f"{ORDER_PATH}/active?{urlencode({'symbol': symbol})}")
        return [parse_order(item) for item in items or [] if isinstance(item, dict)]

    def open_order_symbols(self, api, connection):
        # "Get Symbols With Open Order" GET /api/v1/hf/orders/active/symbols ("General"; openapi-spot-order.json):
        # {symbols: [...]}. The closed-order and fill lists need a symbol, so a closed order in a pair the portal
        # never traded is not read back.
        data = self.signed(api, connection, "GET", f"{ORDER_PATH}/active/symbols")
        return [symbol for symbol in (data or {}).get("symbols") or [] if isinstance(symbol, str)]

    def order_history(self, api, connection, symbol):
        data = self.signed(api, connection, "GET", f"{ORDER_PATH}/done?{urlencode({'symbol': symbol, 'limit': 100})}")
        return [parse_order(item) for item in (data or {}).get("items") or [] if isinstance(item, dict)]


def body_text(body: dict | None) -> str:
    """The body exactly as signed and sent."""
    return json.dumps(body, separators=(",", ":")) if body is not None else ""


def answer_data(payload: dict, status: int):
    if payload.get("code") != "200000":
        raise refusal(ExchangeAPIError(payload.get("msg", f"HTTP {status}"), code=str(payload.get("code", ""))))
    return payload.get("data")


def refusal(error: ExchangeAPIError) -> ExchangeAPIError:
    if error.code == PERMISSION_DENIED_CODE:
        return TradingRefused(
            "KuCoin refused: this connection's key lacks the “Spot trading” permission.",
            reason=TradingRefused.PERMISSION,
            code=error.code,
        )
    if error.code == INSUFFICIENT_BALANCE_CODE:
        return TradingRefused(
            "KuCoin refused: the balance is insufficient for this order.",
            reason=TradingRefused.INSUFFICIENT,
            code=error.code,
        )
    if "order not exist" in str(error):
        return TradingRefused(
            "KuCoin does not know this order (or it is no longer open).",
            reason=TradingRefused.NOT_FOUND,
            code=error.code,
        )
    return TradingRefused(f"KuCoin refused: {error}", reason=TradingRefused.INVALID, code=error.code)


def parse_order(item: dict) -> Order:
    if not isinstance(item, dict) or not item.get("id"):
        raise ExchangeAPIError("KuCoin's order answer had no id.")
    price = decimal_or_none(item.get("price"))
    return Order(
        order_id=str(item["id"]),
        client_order_id=item.get("clientOid") or "",
        symbol=item.get("symbol", ""),
        side=item.get("side", ""),
        type=item.get("type", ""),
        size=decimal_or_none(item.get("size")) or Decimal(0),
        price=price if price else None,
        status=order_status(item),
        filled_size=decimal_or_none(item.get("dealSize")) or Decimal(0),
        filled_funds=decimal_or_none(item.get("dealFunds")) or Decimal(0),
        fee=decimal_or_none(item.get("fee")) or Decimal(0),
        fee_currency=item.get("feeCurrency") or "",
        created_at=ms_datetime(item.get("createdAt")),
    )


TRADING = KuCoinTrading()
