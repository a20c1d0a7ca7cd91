"""Reads of the order ticket: may this connection trade, what the user typed, the orders kept here.

The exchange's package says how (connectors/<exchange>/trading.py); these functions hold the rules the page and the
API share: which connection may trade, which amounts are valid. What asks the exchange (the pair's increments, the
preview) is in services."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from broker_portal.tenancy import get_for_tenant
from connectors.base.trading import TradingRefused
from connectors.exchanges import trading_hooks
from connectors.models import ExchangeConnection
from connectors.selectors import connection_capability

from .models import TradeOrder

MAX_ASSET_LENGTH = 16
MAX_NUMBER_LENGTH = 40
MAX_MAGNITUDE = 18  # digits before (or zeros after) the point: beyond any real order
HISTORY_ROWS = 50


def trading_capability(*, connection: ExchangeConnection) -> str:
    """Why this connection cannot trade, or "" when it can."""
    hooks = trading_hooks(connection.exchange)
    return connection_capability(
        connection=connection,
        offered=hooks is not None,
        permissions=hooks.permissions if hooks else (),
        offer="trading",
        purpose="to trade",
    )


def require_trading(connection: ExchangeConnection) -> None:
    reason = trading_capability(connection=connection)
    if reason:
        raise TradingRefused(reason, reason=TradingRefused.PERMISSION)


def clean_asset(value: str) -> str:
    value = (value or "").strip().upper()
    if not value or len(value) > MAX_ASSET_LENGTH or not value.isalnum():
        raise TradingRefused(
            "Choose the pair's assets by their codes, e.g. BTC and USDT.", reason=TradingRefused.UNKNOWN_SYMBOL
        )
    return value


def parse_amount(value, label: str) -> Decimal:
    """A positive decimal the user typed (never a float); TradingRefused saying which field is wrong."""
    text = str(value if value is not None else "").strip().replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if (
        amount is None
        or not amount.is_finite()
        or amount <= 0
        or len(text) > MAX_NUMBER_LENGTH
        or amount.adjusted() > MAX_MAGNITUDE
        or amount.adjusted() < -MAX_MAGNITUDE
    ):
        raise TradingRefused(f"Enter the {label} as a positive number, e.g. 0.01.", reason=TradingRefused.INVALID)
    return amount


def own_order(*, connection: ExchangeConnection, order_id) -> TradeOrder:
    """One of the connection's orders; another's, or none, is the same "not found"."""
    return get_for_tenant(TradeOrder.objects.filter(connection=connection), connection.tenant, pk=order_id)


def connection_orders(*, connection: ExchangeConnection) -> tuple[list[TradeOrder], list[TradeOrder]]:
    """The connection's open orders and its order history (newest first), as the portal last read them."""
    rows = list(TradeOrder.objects.filter(connection=connection, tenant_id=connection.tenant_id)[: HISTORY_ROWS * 2])
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
    rows = (
        TradeOrder.objects.filter(tenant=tenant, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "exchange", "quote")
        .annotate(
            attributed_funds=Coalesce(Sum("filled_funds", filter=Q(attributed=True)), zero),
            unattributed_funds=Coalesce(Sum("filled_funds", filter=Q(attributed=False)), zero),
            unchecked_funds=Coalesce(Sum("filled_funds", filter=Q(attributed__isnull=True)), zero),
            orders=Count("pk"),
            flagged=Count("pk", filter=Q(attributed=False)),
        )
        .order_by("-day", "exchange", "quote")
    )
    return [
        VolumeRow(
            day=row["day"],
            exchange=row["exchange"],
            quote=row["quote"],
            attributed=row["attributed_funds"],
            unattributed=row["unattributed_funds"],
            unchecked=row["unchecked_funds"],
            orders=row["orders"],
            flagged=row["flagged"],
        )
        for row in rows
    ]
