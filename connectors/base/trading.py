"""Spot trading through an exchange, as one small class per exchange (``connectors/<exchange>/trading.py``'s
``TRADING``); the ticket's flow lives in the trading app's services.

Every order request is built in one place, ``ExchangeTrading.place``: the exchange's hook builds the request, its
attribution hook says what of the broker's attribution the request lacks, and a request lacking any is refused
before anything is sent (``AttributionMissing``). No other code path sends an order."""

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from connectors.base.api import Balance, ExchangeAPI, ExchangeAPIError
from connectors.base.http import ExchangeUnavailable

BUY, SELL = "buy", "sell"
MARKET, LIMIT = "market", "limit"
SIDES, TYPES = (BUY, SELL), (MARKET, LIMIT)


class TradingRefused(ExchangeAPIError):
    """The exchange, or the portal before asking it, will not place, cancel or show an order; ``reason`` says why."""

    PERMISSION, INVALID, UNKNOWN_SYMBOL, INSUFFICIENT, NOT_FOUND, ATTRIBUTION = (
        "permission",
        "invalid",
        "unknown_symbol",
        "insufficient_balance",
        "not_found",
        "attribution",
    )
    http_status = 422

    def __init__(self, message: str, *, reason: str, code: str = ""):
        super().__init__(message, code=code)
        self.reason = self.error_code = reason


class AttributionMissing(TradingRefused):
    """An order request without the broker's full attribution: never sent."""

    def __init__(self, missing: list[str]):
        super().__init__(
            "This order would not carry the broker's attribution (" + ", ".join(missing) + "), so it "
            "was not sent. The broker's exchange settings need fixing.",
            reason=TradingRefused.ATTRIBUTION,
        )
        self.missing = missing


@dataclass(frozen=True)
class Instrument:
    """A spot pair and its increments, as the exchange's symbol or instrument endpoint gives them."""

    symbol: str  # the exchange's own name for it (BTC-USDT, XBTUSDT)
    base: str
    quote: str
    price_tick: Decimal
    size_step: Decimal
    min_size: Decimal
    min_funds: Decimal | None = None  # the smallest order value in the quote currency, where the exchange says

    def round_price(self, price: Decimal, side: str) -> Decimal:
        """To the tick, never past what the user typed: a buy rounds down, a sell up."""
        return round_to_step(price, self.price_tick, ROUND_DOWN if side == BUY else ROUND_UP)

    def round_size(self, size: Decimal) -> Decimal:
        """Down to the size step: never more than the user asked for."""
        return round_to_step(size, self.size_step, ROUND_DOWN)


def round_to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """``value`` as a whole number of ``step`` (a positive increment such as 0.001 or 0.5), rounded as told, with
    the step's own decimal places."""
    if step <= 0:
        return value
    steps = (value / step).quantize(Decimal(1), rounding=rounding)
    return (steps * step).quantize(step) if step.as_tuple().exponent < 0 else steps * step


@dataclass(frozen=True)
class Ticket:
    """What the user asks for, rounded to the instrument's increments."""

    instrument: Instrument
    side: str
    type: str
    size: Decimal  # in the base currency
    price: Decimal | None = None  # limit orders only
    client_order_id: str = ""


@dataclass(frozen=True)
class OrderRequest:
    """One request to the exchange, built and checked before it is sent; ``attribution`` is what it carries of the
    broker's attribution (no secrets: a signature is shown as present, never its value)."""

    method: str
    path: str
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    attribution: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Fill:
    trade_id: str
    price: Decimal
    size: Decimal
    fee: Decimal
    fee_currency: str
    at: datetime | None = None


@dataclass(frozen=True)
class Order:
    """An order as the exchange reports it. ``status``: open, filled, cancelled (or partially_filled)."""

    order_id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    size: Decimal
    price: Decimal | None
    status: str
    filled_size: Decimal = Decimal(0)
    filled_funds: Decimal = Decimal(0)  # in the quote currency
    fee: Decimal = Decimal(0)
    fee_currency: str = ""
    created_at: datetime | None = None
    # The broker attribution the exchange reports on the order, where it reports any (OKX's tag).
    attribution: dict = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status in ("open", "partially_filled")


@dataclass(frozen=True)
class FeeRate:
    maker: Decimal
    taker: Decimal


def client_order_id(prefix: str = "", length: int = 32) -> str:
    """A fresh client order id: ``prefix`` then random alphanumerics, ``length`` characters in all."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(max(length - len(prefix), 8)))


def ms_datetime(value) -> datetime | None:
    """An exchange's milliseconds since the epoch; None for anything else."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


class ExchangeTrading:
    """Hooks an exchange implements; each takes the connectors' signed API object."""

    # The permissions the connection needs (all of them) to place, see and cancel orders, from the exchange's own
    # material; the ticket refuses clearly without them.
    permissions: tuple[str, ...] = ()
    # What the exchange calls the attribution, for the broker admin (e.g. "partner headers", "broker tag").
    attribution_name = ""
    # Whether the exchange reports the attribution on each order, so a read-back can prove it (OKX's tag), or the
    # portal can only know that its own order went out with it (KuCoin refuses a bad partner signature outright).
    attribution_readable = False

    def instrument(self, api: ExchangeAPI, symbol: str) -> Instrument:
        raise NotImplementedError

    def symbol_for(self, base: str, quote: str) -> str:
        return f"{base}-{quote}"

    def fee_rate(self, api: ExchangeAPI, connection, instrument: Instrument) -> FeeRate:
        raise NotImplementedError

    def last_price(self, api: ExchangeAPI, instrument: Instrument) -> Decimal:
        raise NotImplementedError

    def balances(self, api: ExchangeAPI, connection) -> list[Balance]:
        """The balances the connection's spot orders trade from (the preview's "before" and "after"): all of the
        account's where the exchange keeps no separate trading account."""
        return api.balances(connection)

    def new_client_order_id(self, api: ExchangeAPI) -> str:
        return client_order_id()

    # The one place an order is sent.
    def order_request(self, api: ExchangeAPI, connection, ticket: Ticket) -> OrderRequest:
        raise NotImplementedError

    def missing_attribution(self, api: ExchangeAPI, connection, request: OrderRequest) -> list[str]:
        """What of the broker's attribution ``request`` lacks ([] when it carries all of it)."""
        raise NotImplementedError

    def send(self, api: ExchangeAPI, connection, request: OrderRequest) -> str:
        """Send the checked request; the exchange's order id."""
        raise NotImplementedError

    def place(self, api: ExchangeAPI, connection, ticket: Ticket) -> tuple[str, OrderRequest]:
        """The exchange's order id and the request that placed it. Where the exchange did not answer, the
        exception carries the request sent (``sent``): the order may exist, to be found by its client order id."""
        request = self.order_request(api, connection, ticket)
        missing = self.missing_attribution(api, connection, request)
        if missing:
            raise AttributionMissing(missing)
        try:
            return self.send(api, connection, request), request
        except ExchangeUnavailable as error:
            error.sent = request
            raise

    def order_by_client_id(self, api: ExchangeAPI, connection, symbol: str, client_order_id: str) -> Order | None:
        """The order the exchange has under this client order id, or None: how an order whose answer was lost is
        found again."""
        return None

    def cancel(self, api: ExchangeAPI, connection, symbol: str, order_id: str) -> None:
        raise NotImplementedError

    def order(self, api: ExchangeAPI, connection, symbol: str, order_id: str) -> Order:
        raise NotImplementedError

    def fills(self, api: ExchangeAPI, connection, symbol: str, order_id: str) -> list[Fill]:
        raise NotImplementedError

    def open_orders(self, api: ExchangeAPI, connection, symbol: str) -> list[Order]:
        raise NotImplementedError

    def order_history(self, api: ExchangeAPI, connection, symbol: str) -> list[Order]:
        raise NotImplementedError

    def open_order_symbols(self, api: ExchangeAPI, connection) -> list[str]:
        """The pairs in which the exchange says the account has open orders, where it says ([] otherwise)."""
        return []

    def all_open_orders(self, api: ExchangeAPI, connection, symbols: list[str]) -> list[Order]:
        """Every open order of the account: where the exchange lists every pair's at once (an override), that list;
        otherwise those of ``symbols`` (the pairs the portal traded) and of the pairs holding open orders."""
        found: list[Order] = []
        for symbol in sorted(set(symbols) | set(self.open_order_symbols(api, connection))):
            found += self.open_orders(api, connection, symbol)
        return found

    def recent_orders(self, api: ExchangeAPI, connection, since: datetime, symbols: list[str]) -> list[Order]:
        """The account's orders, open and closed, for the attribution check: where the exchange lists every pair's
        at once (an override), all of them since ``since``; otherwise each of ``symbols`` (the pairs the portal
        traded) and of the pairs holding open orders, read pair by pair."""
        found = self.all_open_orders(api, connection, symbols)
        for symbol in sorted(set(symbols) | {order.symbol for order in found}):
            found += self.order_history(api, connection, symbol)
        return found

    def attributed(self, api: ExchangeAPI, order: Order) -> bool | None:
        """Whether the order as read back carries the broker's attribution; None where the exchange reports none."""
        return None
