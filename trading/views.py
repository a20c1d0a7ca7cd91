"""The order ticket: each request parses input, calls one selector or service, and renders or redirects."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from broker_portal.tenancy import get_for_tenant
from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.trading import TradingRefused
from connectors.models import ExchangeConnection
from connectors.token_refresh import RefreshFailed

from . import selectors, services

FAILURES = (TradingRefused, ExchangeUnavailable, ExchangeAPIError, RefreshFailed)
TICKET_FIELDS = ("base", "quote", "side", "type", "size", "price")


def own_connection(request, connection_id) -> ExchangeConnection:
    """The signed-in user's own connection at this tenant; anyone else's answers 404."""
    return get_for_tenant(ExchangeConnection.objects.filter(user=request.user), request.tenant, pk=connection_id)


def failure_message(connection: ExchangeConnection, error: Exception) -> str:
    if isinstance(error, (TradingRefused, RefreshFailed)):
        return str(error)
    if isinstance(error, ExchangeUnavailable):
        return f"{connection.get_exchange_display()} cannot be reached right now; try again in a moment."
    return f"{connection.get_exchange_display()} refused: {error}"


def ticket_input(data) -> dict:
    values = {name: (data.get(name) or "").strip() for name in TICKET_FIELDS}
    values["base"], values["quote"] = (values["base"] or "BTC").upper(), (values["quote"] or "USDT").upper()
    values["side"], values["type"] = values["side"] or "buy", values["type"] or "limit"
    return values


def ticket_page(request, connection, values, **context):
    # Open orders read live from the exchange (the portal's records where it cannot be asked), then the history.
    live = services.open_orders_read(connection=connection)
    _, history = selectors.connection_orders(connection=connection)
    return render(
        request,
        "trading/ticket.html",
        {
            "connection": connection,
            "values": values,
            "open_orders": live.orders,
            "open_orders_live": live.live,
            "history": history,
            **context,
        },
    )


@login_required
@require_GET
def ticket(request, connection_id):
    connection = own_connection(request, connection_id)
    reason = selectors.trading_capability(connection=connection)
    if reason:
        return render(request, "trading/unavailable.html", {"connection": connection, "reason": reason})
    return ticket_page(request, connection, ticket_input(request.GET))


@login_required
@require_POST
def preview(request, connection_id):
    connection = own_connection(request, connection_id)
    values = ticket_input(request.POST)
    try:
        found = services.order_preview(connection=connection, **values)
    except FAILURES as error:
        return ticket_page(request, connection, values, error=failure_message(connection, error))
    return ticket_page(request, connection, values, preview=found)


@login_required
@require_POST
def place(request, connection_id):
    connection = own_connection(request, connection_id)
    values = ticket_input(request.POST)
    try:
        order = services.order_place(
            connection=connection, client_order_id=request.POST.get("client_order_id", ""), request=request, **values
        )
    except FAILURES as error:
        return ticket_page(request, connection, values, error=failure_message(connection, error))
    messages.success(request, f"Your {order.side} order for {order.size.normalize():f} {order.base} was placed.")
    return redirect("trade_order", connection.pk, order.pk)


@login_required
@require_GET
def order_detail(request, connection_id, order_id):
    connection = own_connection(request, connection_id)
    order = selectors.own_order(connection=connection, order_id=order_id)
    context = {"connection": connection, "order": order, "fills": []}
    try:
        context["fills"] = services.order_refresh(order=order)
    except FAILURES as error:
        context["error"] = failure_message(connection, error)
    return render(request, "trading/order.html", context)


@login_required
@require_POST
def order_cancel(request, connection_id, order_id):
    connection = own_connection(request, connection_id)
    order = selectors.own_order(connection=connection, order_id=order_id)
    try:
        services.order_cancel(order=order, request=request)
    except FAILURES as error:
        messages.error(request, failure_message(connection, error))
    else:
        messages.success(request, "The order was cancelled.")
    return redirect("trade_order", connection.pk, order.pk)
