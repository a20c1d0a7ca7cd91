"""Reads of the order ticket: may this connection trade, the pair's increments, the preview, the orders.

The exchange's package says how (connectors/<exchange>/trading.py); these functions hold the rules the page and the
API share: which connection may trade, the rounding to the instrument's increments, what the balance becomes."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from broker_portal.models import ExchangeCredential
from broker_portal.tenancy import get_for_tenant
from connectors.base.api import ExchangeAPI
from connectors.base.trading import BUY, LIMIT, SIDES, TYPES, Instrument, Ticket, TradingRefused
from connectors.exchanges import trading_hooks
from connectors.models import ExchangeConnection
from connectors.refresh import call_with_fresh_token
from connectors.selectors import connection_capability, exchange_api

from .models import TradeOrder

MAX_ASSET_LENGTH = 16
MAX_NUMBER_LENGTH = 40
MAX_MAGNITUDE = 18  # digits before (or zeros after) the point: beyond any real order
HISTORY_ROWS = 50


@dataclass(frozen=True)
class Preview:
    """The order as it would be sent (rounded to the increments) and what it would do to the balances."""

    ticket: Ticket
    price: Decimal  # the limit price, or the last price a market order is estimated at
    funds: Decimal  # price × size, in the quote currency
    fee_rate: Decimal
    fee: Decimal  # estimated, in the quote currency
    base_before: Decimal
    base_after: Decimal
    quote_before: Decimal
    quote_after: Decimal
    rounded: bool  # the size or price the user typed was rounded

    @property
    def instrument(self) -> Instrument:
        return self.ticket.instrument


def trading_capability(*, connection: ExchangeConnection) -> str:
    """Why this connection cannot trade, or "" when it can."""
    hooks = trading_hooks(connection.exchange)
    return connection_capability(connection=connection, offered=hooks is not None,
                                 permissions=hooks.permissions if hooks else (), offer="trading", purpose="to trade")


def require_trading(connection: ExchangeConnection) -> None:
    reason = trading_capability(connection=connection)
    if reason:
        raise TradingRefused(reason, reason=TradingRefused.PERMISSION)


def connection_api(connection: ExchangeConnection) -> ExchangeAPI:
    credential = ExchangeCredential.objects.get(tenant_id=connection.tenant_id, exchange=connection.exchange)
    return exchange_api(credential)


def clean_asset(value: str) -> str:
    value = (value or "").strip().upper()
    if not value or len(value) > MAX_ASSET_LENGTH or not value.isalnum():
        raise TradingRefused("Choose the pair's assets by their codes, e.g. BTC and USDT.",
                             reason=TradingRefused.UNKNOWN_SYMBOL)
    return value


def parse_amount(value, label: str) -> Decimal:
    """A positive decimal the user typed (never a float); TradingRefused saying which field is wrong."""
    text = str(value if value is not None else "").strip().replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0 or len(text) > MAX_NUMBER_LENGTH \
            or amount.adjusted() > MAX_MAGNITUDE or amount.adjusted() < -MAX_MAGNITUDE:
        raise TradingRefused(f"Enter the {label} as a positive number, e.g. 0.01.", reason=TradingRefused.INVALID)
    return amount


def instrument_get(*, connection: ExchangeConnection, base: str, quote: str) -> Instrument:
    hooks = trading_hooks(connection.exchange)
    api = connection_api(connection)
    return hooks.instrument(api, hooks.symbol_for(clean_asset(base), clean_asset(quote)))


def ticket_build(*, connection: ExchangeConnection, base: str, quote: str, side: str, type: str, size,
                 price=None, client_order_id: str = "") -> tuple[Ticket, bool]:
    """The ticket rounded to the instrument's increments, and whether anything was rounded; refuses what the
    exchange would (a size below its minimum) before it is asked."""
    if side not in SIDES:
        raise TradingRefused("Choose buy or sell.", reason=TradingRefused.INVALID)
    if type not in TYPES:
        raise TradingRefused("Choose a market or a limit order.", reason=TradingRefused.INVALID)
    size = parse_amount(size, "size")
    price = parse_amount(price, "limit price") if type == LIMIT else None
    instrument = instrument_get(connection=connection, base=base, quote=quote)
    rounded_size = instrument.round_size(size)
    rounded_price = instrument.round_price(price, side) if price is not None else None
    if rounded_size < instrument.min_size or rounded_size <= 0:
        raise TradingRefused(f"The smallest {instrument.base} order is {instrument.min_size.normalize():f}.",
                             reason=TradingRefused.INVALID)
    if rounded_price is not None and rounded_price <= 0:
        raise TradingRefused(f"The price moves in steps of {instrument.price_tick.normalize():f}.",
                             reason=TradingRefused.INVALID)
    ticket = Ticket(instrument=instrument, side=side, type=type, size=rounded_size, price=rounded_price,
                    client_order_id=client_order_id)
    return ticket, rounded_size != size or rounded_price != price


def order_preview(*, connection: ExchangeConnection, base: str, quote: str, side: str, type: str, size,
                  price=None, client_order_id: str = "") -> Preview:
    require_trading(connection)
    hooks = trading_hooks(connection.exchange)
    api = connection_api(connection)
    ticket, rounded = ticket_build(connection=connection, base=base, quote=quote, side=side, type=type, size=size,
                                   price=price, client_order_id=client_order_id or hooks.new_client_order_id(api))
    instrument = ticket.instrument
    last = hooks.last_price(api, instrument)
    estimate = ticket.price if ticket.type == LIMIT else last
    # A limit order that would not fill at once rests on the book as the maker; anything else takes.
    resting = ticket.type == LIMIT and (ticket.price < last if side == BUY else ticket.price > last)
    rates = call_with_fresh_token(connection=connection, call=lambda c: hooks.fee_rate(api, c, instrument))
    rate = rates.maker if resting else rates.taker
    funds = estimate * ticket.size
    fee = funds * rate
    if instrument.min_funds and funds < instrument.min_funds:
        raise TradingRefused(f"The smallest order is worth {instrument.min_funds.normalize():f} {instrument.quote}.",
                             reason=TradingRefused.INVALID)
    traded_from = call_with_fresh_token(connection=connection, call=lambda c: hooks.balances(api, c))
    balances = {b.currency: b.available for b in traded_from}
    base_before, quote_before = balances.get(instrument.base, Decimal(0)), balances.get(instrument.quote, Decimal(0))
    sign = 1 if side == BUY else -1
    base_after, quote_after = base_before + sign * ticket.size, quote_before - sign * funds - fee
    if (base_after if side != BUY else quote_after) < 0:
        short = instrument.base if side != BUY else instrument.quote
        raise TradingRefused(f"Your {short} balance is too small for this order.",
                             reason=TradingRefused.INSUFFICIENT)
    return Preview(ticket=ticket, price=estimate, funds=funds, fee_rate=rate, fee=fee, base_before=base_before,
                   base_after=base_after, quote_before=quote_before, quote_after=quote_after, rounded=rounded)


def own_order(*, connection: ExchangeConnection, order_id) -> TradeOrder:
    """One of the connection's orders; another's, or none, is the same "not found"."""
    return get_for_tenant(TradeOrder.objects.filter(connection=connection), connection.tenant, pk=order_id)


def connection_orders(*, connection: ExchangeConnection) -> tuple[list[TradeOrder], list[TradeOrder]]:
    """The connection's open orders and its order history (newest first), as the portal last read them."""
    rows = list(TradeOrder.objects.filter(connection=connection, tenant_id=connection.tenant_id)[:HISTORY_ROWS * 2])
    open_rows = [row for row in rows if row.is_open or row.status == TradeOrder.Status.SENDING]
    return open_rows, [row for row in rows if row not in open_rows][:HISTORY_ROWS]



@dataclass(frozen=True)
class VolumeRow:
    day: object
    exchange: str
    quote: str
    attributed: Decimal
    unattributed: Decimal
    unchecked: Decimal
    orders: int
    flagged: int


def attributed_volume(*, tenant, days: int = 30) -> list[VolumeRow]:
    """Filled volume (in each pair's quote currency) per day, exchange and quote over the last ``days``: attributed
    (the check read it back with the broker's attribution), not attributed, and not checked yet. One query."""
    zero = Decimal(0)
    since = timezone.now() - timedelta(days=days)
    rows = (TradeOrder.objects.filter(tenant=tenant, created_at__gte=since)
            .annotate(day=TruncDate("created_at")).values("day", "exchange", "quote")
            .annotate(attributed_funds=Coalesce(Sum("filled_funds", filter=Q(attributed=True)), zero),
                      unattributed_funds=Coalesce(Sum("filled_funds", filter=Q(attributed=False)), zero),
                      unchecked_funds=Coalesce(Sum("filled_funds", filter=Q(attributed__isnull=True)), zero),
                      orders=Count("pk"), flagged=Count("pk", filter=Q(attributed=False)))
            .order_by("-day", "exchange", "quote"))
    return [VolumeRow(day=row["day"], exchange=row["exchange"], quote=row["quote"],
                      attributed=row["attributed_funds"], unattributed=row["unattributed_funds"],
                      unchecked=row["unchecked_funds"], orders=row["orders"], flagged=row["flagged"]) for row in rows]
