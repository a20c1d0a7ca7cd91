"""The order ticket's calls to the exchange: the pair's increments, the preview, place, cancel, read an order back,
and check the broker's attribution (a preview reads only, but through the exchange and its token refresh).

An order is recorded (status "sending", with its client order id) before the exchange is asked, so a double submit
finds it and places nothing twice, and an order whose answer was lost stays visible as "unknown"."""

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from broker_portal.audit import record_audit_event
from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.trading import (
    BUY,
    LIMIT,
    SIDES,
    TYPES,
    AttributionMissing,
    Fill,
    Instrument,
    Order,
    Ticket,
    TradingRefused,
)
from connectors.clients import connection_api
from connectors.exchanges import EXCHANGES, trading_hooks
from connectors.models import ExchangeConnection
from connectors.selectors import CredentialNotOffered
from connectors.token_refresh import RefreshFailed, call_with_fresh_token

from .models import TradeOrder
from .selectors import clean_asset, parse_amount, require_trading

CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9]{8,32}$")
# How far back the attribution check reads an exchange's orders.
CHECK_WINDOW = timedelta(days=7)
# How many of the portal's orders the exchange no longer lists as open one page view reads again.
STALE_READS = 10


def order_place(
    *,
    connection: ExchangeConnection,
    base: str,
    quote: str,
    side: str,
    type: str,
    size,
    price=None,
    client_order_id: str,
    request=None,
) -> TradeOrder:
    """Place the order the preview showed (same client order id); a second submit answers the first order."""
    require_trading(connection)
    if not CLIENT_ORDER_ID.match(client_order_id or ""):
        raise TradingRefused("The order form has expired; preview the order again.", reason=TradingRefused.INVALID)
    existing = TradeOrder.objects.filter(connection=connection, client_order_id=client_order_id).first()
    if existing is not None:
        return existing
    hooks, api = trading_hooks(connection.exchange), connection_api(connection)
    ticket, _ = ticket_build(
        connection=connection,
        base=base,
        quote=quote,
        side=side,
        type=type,
        size=size,
        price=price,
        client_order_id=client_order_id,
    )
    instrument = ticket.instrument
    try:
        with transaction.atomic():
            order = TradeOrder.objects.create(
                tenant_id=connection.tenant_id,
                connection=connection,
                user_id=connection.user_id,
                exchange=connection.exchange,
                symbol=instrument.symbol,
                base=instrument.base,
                quote=instrument.quote,
                side=ticket.side,
                type=ticket.type,
                size=ticket.size,
                price=ticket.price,
                client_order_id=client_order_id,
            )
    except IntegrityError:  # the twin submit won the race
        return TradeOrder.objects.get(connection=connection, client_order_id=client_order_id)
    try:
        exchange_order_id, sent = call_with_fresh_token(
            connection=connection, call=lambda c: hooks.place(api, c, ticket)
        )
    except AttributionMissing as refused:
        _refused(order, refused, attribution={"missing": refused.missing}, request=request)
        raise
    except ExchangeUnavailable as error:
        if error.retry_after is not None:  # 429: the exchange took nothing
            _refused(
                order,
                TradingRefused(
                    "The exchange asks the portal to slow down; nothing was placed. Try again in a moment.",
                    reason=TradingRefused.INVALID,
                ),
                request=request,
            )
            raise
        # The exchange may have the order: the order's page looks it up by its client order id.
        sent = getattr(error, "sent", None)
        order.status, order.error = TradeOrder.Status.UNKNOWN, f"No answer from the exchange: {error}"
        order.attribution = sent.attribution if sent else {}
        order.save(update_fields=["status", "error", "attribution", "updated_at"])
        raise
    except (ExchangeAPIError, RefreshFailed) as refused:
        _refused(order, refused, request=request)
        raise
    with transaction.atomic():
        order.exchange_order_id, order.attribution, order.status = (
            exchange_order_id,
            sent.attribution,
            TradeOrder.Status.OPEN,
        )
        order.save(update_fields=["exchange_order_id", "attribution", "status", "updated_at"])
        record_audit_event(
            tenant=connection.tenant,
            action="trade.order_placed",
            target=order,
            request=request,
            details=_audit_details(order),
        )
    try:
        order_refresh(order=order)
    except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed):
        pass  # placed; its status is read again on the order's page
    return order


def _refused(order: TradeOrder, error: Exception, *, attribution: dict | None = None, request=None) -> None:
    with transaction.atomic():
        order.status, order.error = TradeOrder.Status.REFUSED, str(error)
        if attribution is not None:
            order.attribution = attribution
        order.save(update_fields=["status", "error", "attribution", "updated_at"])
        if isinstance(error, AttributionMissing):
            record_audit_event(
                tenant=order.tenant,
                action="trade.order_unattributed_refused",
                target=order,
                request=request,
                details={**_audit_details(order), "missing": error.missing},
            )


def _audit_details(order: TradeOrder) -> dict:
    return {
        "exchange": order.exchange,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "size": str(order.size),
        "price": str(order.price) if order.price is not None else None,
        "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id,
        "attribution": order.attribution,
    }


def _apply(order: TradeOrder, remote: Order) -> None:
    order.status = remote.status if remote.status in TradeOrder.Status.values else order.status
    order.filled_size, order.filled_funds, order.fee = remote.filled_size, remote.filled_funds, remote.fee
    order.fee_currency = remote.fee_currency or order.fee_currency
    order.exchange_order_id = order.exchange_order_id or remote.order_id


def order_refresh(*, order: TradeOrder) -> list[Fill]:
    """Read the order's status and fills back from the exchange; the fills."""
    connection = order.connection
    hooks, api = trading_hooks(order.exchange), connection_api(connection)
    if not order.exchange_order_id:
        if order.status != TradeOrder.Status.UNKNOWN:
            return []
        remote = call_with_fresh_token(
            connection=connection, call=lambda c: hooks.order_by_client_id(api, c, order.symbol, order.client_order_id)
        )
        if remote is None:
            return []  # still unknown: the exchange may not have it yet
        with transaction.atomic():
            order.exchange_order_id, order.error = remote.order_id, ""
            order.save(update_fields=["exchange_order_id", "error", "updated_at"])
            record_audit_event(
                tenant=connection.tenant,
                action="trade.order_placed",
                target=order,
                details={**_audit_details(order), "found_by_client_order_id": True},
            )
    else:
        remote = call_with_fresh_token(
            connection=connection, call=lambda c: hooks.order(api, c, order.symbol, order.exchange_order_id)
        )
    fills = (
        call_with_fresh_token(
            connection=connection, call=lambda c: hooks.fills(api, c, order.symbol, order.exchange_order_id)
        )
        if remote.filled_size
        else []
    )
    _apply(order, remote)
    order.save(
        update_fields=[
            "status",
            "filled_size",
            "filled_funds",
            "fee",
            "fee_currency",
            "exchange_order_id",
            "error",
            "updated_at",
        ]
    )
    return fills


def order_cancel(*, order: TradeOrder, request=None) -> TradeOrder:
    connection = order.connection
    require_trading(connection)
    if not order.is_open:
        raise TradingRefused(
            f"This order is {order.get_status_display().lower()}; only an open order can be cancelled.",
            reason=TradingRefused.INVALID,
        )
    hooks, api = trading_hooks(order.exchange), connection_api(connection)
    call_with_fresh_token(
        connection=connection, call=lambda c: hooks.cancel(api, c, order.symbol, order.exchange_order_id)
    )
    with transaction.atomic():
        order.status = TradeOrder.Status.CANCELLED
        order.save(update_fields=["status", "updated_at"])
        record_audit_event(
            tenant=connection.tenant,
            action="trade.order_cancelled",
            target=order,
            request=request,
            details=_audit_details(order),
        )
    try:
        order_refresh(order=order)
    except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed):
        pass
    return order


@dataclass(frozen=True)
class OpenOrders:
    """The open orders a page shows. ``live``: as the exchange listed them just now (the portal's own orders updated
    from it, others unsaved rows found at the exchange); otherwise the portal's records, because ``error``."""

    orders: list[TradeOrder]
    live: bool
    error: str = ""


def exchange_order_row(connection: ExchangeConnection, item: Order, base: str, quote: str, **fields) -> TradeOrder:
    """A row (not yet saved) for an order the exchange lists and the portal has no record of, as the exchange says."""
    return TradeOrder(
        tenant_id=connection.tenant_id,
        connection=connection,
        user_id=connection.user_id,
        exchange=connection.exchange,
        source=TradeOrder.Source.EXCHANGE,
        symbol=item.symbol,
        base=base,
        quote=quote,
        side=item.side,
        type=item.type,
        price=item.price,
        **fields,
    )


def open_orders_read(*, connection: ExchangeConnection) -> OpenOrders:
    """The connection's open orders read live from the exchange, every pair; where the exchange cannot be asked,
    the portal's records of them, saying so. The portal's orders the exchange no longer lists as open are read
    again (at most STALE_READS of them), so the history beside the list tells how each ended."""
    records = list(
        TradeOrder.objects.filter(
            connection=connection,
            tenant_id=connection.tenant_id,
            status__in=[TradeOrder.Status.OPEN, TradeOrder.Status.PARTIALLY_FILLED, TradeOrder.Status.SENDING],
        )
    )
    try:
        hooks, api = trading_hooks(connection.exchange), connection_api(connection)
        symbols = sorted({row.symbol for row in records})
        remote = call_with_fresh_token(connection=connection, call=lambda c: hooks.all_open_orders(api, c, symbols))
    except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed, CredentialNotOffered) as error:
        return OpenOrders(orders=records, live=False, error=str(error))
    listed = {item.order_id: item for item in remote}
    known = {
        row.exchange_order_id: row
        for row in TradeOrder.objects.filter(connection=connection, exchange_order_id__in=list(listed))
    }
    pairs = {row.symbol: (row.base, row.quote) for row in known.values()}
    changed, shown = [], []
    for item in listed.values():
        row = known.get(item.order_id)
        if row is None:
            pairs.setdefault(item.symbol, _pair_of(hooks, api, item.symbol))
            base, quote = pairs[item.symbol]
            shown.append(
                exchange_order_row(
                    connection,
                    item,
                    base,
                    quote,
                    size=item.size,
                    status=item.status,
                    exchange_order_id=item.order_id,
                    client_order_id=item.client_order_id,
                    filled_size=item.filled_size,
                    created_at=item.created_at,
                )
            )
            continue
        before = (row.status, row.filled_size, row.filled_funds, row.fee)
        _apply(row, item)
        if (row.status, row.filled_size, row.filled_funds, row.fee) != before:
            changed.append(row)
        shown.append(row)
    TradeOrder.objects.bulk_update(changed, ["status", "filled_size", "filled_funds", "fee", "fee_currency"])
    stale = [row for row in records if row.is_open and row.exchange_order_id not in listed]
    for row in stale[:STALE_READS]:
        try:
            order_refresh(order=row)
        except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed):
            pass  # its page reads it again
    shown += [row for row in records if row.status == TradeOrder.Status.SENDING]
    return OpenOrders(orders=sorted(shown, key=lambda row: row.created_at or timezone.now(), reverse=True), live=True)


def attribution_check(*, connection: ExchangeConnection) -> dict:
    """Read the connection's recent orders back from the exchange and give each its verdict: attributed or not.
    The read covers every pair the exchange lists at once (OKX, Kraken) or, pair by pair, those the portal traded and
    those holding open orders (KuCoin); and every order the portal placed in the window that the lists left out (a
    page's end) is read on its own. An order the exchange reports attribution for (OKX's tag) is judged by it; where
    the exchange reports none (KuCoin, Kraken), an order is attributed when the portal placed it (it could not leave
    without the attribution) and not otherwise. Orders the portal did not place are recorded as found at the
    exchange, flagged, and each one audited."""
    hooks, api = trading_hooks(connection.exchange), connection_api(connection)
    since = timezone.now() - CHECK_WINDOW
    # The portal's own orders name each pair's base and quote: the exchange's symbol alone may not (XBTUSDT).
    pairs = {
        symbol: (base, quote)
        for symbol, base, quote in TradeOrder.objects.filter(connection=connection)
        .values_list("symbol", "base", "quote")
        .distinct()
    }
    placed = TradeOrder.objects.filter(connection=connection, source=TradeOrder.Source.PORTAL, created_at__gte=since)
    symbols = sorted(set(placed.values_list("symbol", flat=True)))
    remote = {
        item.order_id: item
        for item in call_with_fresh_token(
            connection=connection, call=lambda c: hooks.recent_orders(api, c, since, symbols)
        )
    }
    for symbol, order_id in placed.exclude(exchange_order_id="").values_list("symbol", "exchange_order_id"):
        if order_id not in remote:

            def read_order(fresh: ExchangeConnection, symbol: str = symbol, order_id: str = order_id) -> Order:
                return hooks.order(api, fresh, symbol, order_id)

            try:
                remote[order_id] = call_with_fresh_token(connection=connection, call=read_order)
            except TradingRefused as refused:
                if refused.reason != TradingRefused.NOT_FOUND:
                    raise
    known = {
        row.exchange_order_id: row
        for row in TradeOrder.objects.filter(connection=connection, exchange_order_id__in=list(remote))
    }
    counts = {"checked": 0, "unattributed": 0, "found": 0}
    for item in remote.values():
        order = known.get(item.order_id)
        if order is None and item.created_at is not None and item.created_at < since:
            continue  # older than the window, and not the portal's
        if order is None and item.symbol not in pairs:
            pairs[item.symbol] = _pair_of(hooks, api, item.symbol)
        _judge(connection, hooks, api, item, order, counts, pair=pairs.get(item.symbol, ("", "")))
    return counts


def _pair_of(hooks, api, symbol: str) -> tuple[str, str]:
    """Base and quote of a pair the portal never traded, from the exchange's own listing of it."""
    try:
        instrument = hooks.instrument(api, symbol)
    except ExchangeAPIError:
        return "", ""
    return instrument.base, instrument.quote


def _judge(
    connection, hooks, api, item: Order, order: TradeOrder | None, counts: dict, *, pair: tuple[str, str]
) -> None:
    reported = hooks.attributed(api, item)
    now = timezone.now()
    with transaction.atomic():
        if order is None:
            base, quote = pair
            order = exchange_order_row(
                connection,
                item,
                base,
                quote,
                size=item.size or Decimal(0),
                client_order_id=item.client_order_id or item.order_id[:64],
                attribution=item.attribution,
            )
            counts["found"] += 1
        verdict = reported if reported is not None else order.source == TradeOrder.Source.PORTAL
        flagged_now = not verdict and order.attributed is not False
        _apply(order, item)
        order.attributed, order.attribution_checked_at = verdict, now
        if item.attribution:
            order.attribution = {**order.attribution, "reported": item.attribution}
        order.save()
        counts["checked"] += 1
        if not verdict:
            counts["unattributed"] += 1
        if flagged_now:
            record_audit_event(
                tenant=connection.tenant, action="trade.order_unattributed", target=order, details=_audit_details(order)
            )


def attribution_check_all() -> dict:
    """Every active connection that traded in the window; one failing exchange does not stop the others."""
    since = timezone.now() - CHECK_WINDOW
    ids = TradeOrder.objects.filter(
        created_at__gte=since,
        source=TradeOrder.Source.PORTAL,
        connection__status=ExchangeConnection.Status.ACTIVE,
        exchange__in=list(EXCHANGES),
    ).values_list("connection_id", flat=True)
    totals = {"connections": 0, "checked": 0, "unattributed": 0, "found": 0, "failed": 0}
    for connection in ExchangeConnection.objects.filter(pk__in=set(ids)).select_related("tenant"):
        try:
            counts = attribution_check(connection=connection)
        except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed):
            totals["failed"] += 1
            continue
        totals["connections"] += 1
        for key, value in counts.items():
            totals[key] += value
    return totals


def orders_unknown_resolve_all() -> dict:
    """Look up every recent order whose placing got no answer (status unknown) by its client order id, so each
    ends open, filled or still unknown without anyone opening its page; one failing exchange stops no other."""
    since = timezone.now() - CHECK_WINDOW
    totals = {"found": 0, "still_unknown": 0, "failed": 0}
    unknown = TradeOrder.objects.filter(
        status=TradeOrder.Status.UNKNOWN,
        created_at__gte=since,
        connection__status=ExchangeConnection.Status.ACTIVE,
        exchange__in=list(EXCHANGES),
    ).select_related("connection__tenant")
    for order in unknown:
        try:
            order_refresh(order=order)
        except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed):
            totals["failed"] += 1
            continue
        totals["found" if order.exchange_order_id else "still_unknown"] += 1
    return totals


# --- the order ticket, through the exchange: its increments and the preview (calls, so services) ----------
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


def instrument_get(*, connection: ExchangeConnection, base: str, quote: str) -> Instrument:
    hooks = trading_hooks(connection.exchange)
    api = connection_api(connection)
    return hooks.instrument(api, hooks.symbol_for(clean_asset(base), clean_asset(quote)))


def ticket_build(
    *,
    connection: ExchangeConnection,
    base: str,
    quote: str,
    side: str,
    type: str,
    size,
    price=None,
    client_order_id: str = "",
) -> tuple[Ticket, bool]:
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
        raise TradingRefused(
            f"The smallest {instrument.base} order is {instrument.min_size.normalize():f}.",
            reason=TradingRefused.INVALID,
        )
    if rounded_price is not None and rounded_price <= 0:
        raise TradingRefused(
            f"The price moves in steps of {instrument.price_tick.normalize():f}.", reason=TradingRefused.INVALID
        )
    ticket = Ticket(
        instrument=instrument,
        side=side,
        type=type,
        size=rounded_size,
        price=rounded_price,
        client_order_id=client_order_id,
    )
    return ticket, rounded_size != size or rounded_price != price


def order_preview(
    *,
    connection: ExchangeConnection,
    base: str,
    quote: str,
    side: str,
    type: str,
    size,
    price=None,
    client_order_id: str = "",
) -> Preview:
    require_trading(connection)
    hooks = trading_hooks(connection.exchange)
    api = connection_api(connection)
    ticket, rounded = ticket_build(
        connection=connection,
        base=base,
        quote=quote,
        side=side,
        type=type,
        size=size,
        price=price,
        client_order_id=client_order_id or hooks.new_client_order_id(api),
    )
    instrument = ticket.instrument
    last = hooks.last_price(api, instrument)
    estimate = ticket.price if ticket.type == LIMIT and ticket.price is not None else last
    # A limit order that would not fill at once rests on the book as the maker; anything else takes.
    resting = ticket.type == LIMIT and (ticket.price < last if side == BUY else ticket.price > last)
    rates = call_with_fresh_token(connection=connection, call=lambda c: hooks.fee_rate(api, c, instrument))
    rate = rates.maker if resting else rates.taker
    funds = estimate * ticket.size
    fee = funds * rate
    if instrument.min_funds and funds < instrument.min_funds:
        raise TradingRefused(
            f"The smallest order is worth {instrument.min_funds.normalize():f} {instrument.quote}.",
            reason=TradingRefused.INVALID,
        )
    traded_from = call_with_fresh_token(connection=connection, call=lambda c: hooks.balances(api, c))
    balances = {b.currency: b.available for b in traded_from}
    base_before, quote_before = balances.get(instrument.base, Decimal(0)), balances.get(instrument.quote, Decimal(0))
    sign = 1 if side == BUY else -1
    base_after, quote_after = base_before + sign * ticket.size, quote_before - sign * funds - fee
    if (base_after if side != BUY else quote_after) < 0:
        short = instrument.base if side != BUY else instrument.quote
        raise TradingRefused(f"Your {short} balance is too small for this order.", reason=TradingRefused.INSUFFICIENT)
    return Preview(
        ticket=ticket,
        price=estimate,
        funds=funds,
        fee_rate=rate,
        fee=fee,
        base_before=base_before,
        base_after=base_after,
        quote_before=quote_before,
        quote_after=quote_after,
        rounded=rounded,
    )
