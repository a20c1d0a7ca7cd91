"""Trading through the API: the same selectors and services as the order ticket page. Placing and cancelling take
an Idempotency-Key (api/idempotency.py): a retried request answers the first one's result and places nothing more."""

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors import clients
from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.trading import SIDES, TYPES, TradingRefused
from connectors.exchanges import trading_hooks
from connectors.token_refresh import RefreshFailed
from trading import selectors, services

from .errors import DomainError
from .idempotency import idempotent
from .serializers import money
from .views import own_connection

FAILURES = (TradingRefused, ExchangeUnavailable, ExchangeAPIError, RefreshFailed)
IDEMPOTENCY_KEY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)


def refusal(connection, error: Exception) -> DomainError:
    if isinstance(error, ExchangeUnavailable):
        return DomainError(
            f"{connection.get_exchange_display()} cannot be reached right now; try again in a moment.",
            code="exchange_unavailable",
        )
    if isinstance(error, TradingRefused):
        return DomainError(str(error), code=error.reason)
    if isinstance(error, RefreshFailed):
        return DomainError(str(error), code="reconnect")
    return DomainError(f"{connection.get_exchange_display()} refused: {error}", code="exchange_refused")


def trading_connection(request, pk):
    """The user's own connection (404 for anyone else's, before any input is looked at), if it may trade."""
    connection = own_connection(request, pk)
    reason = selectors.trading_capability(connection=connection)
    if reason:
        raise DomainError(reason, code="permission")
    return connection


class TicketInput(serializers.Serializer):
    base = serializers.CharField(max_length=16, help_text="The asset bought or sold, e.g. BTC.")
    quote = serializers.CharField(max_length=16, help_text="The asset it is priced in, e.g. USDT.")
    side = serializers.ChoiceField(choices=SIDES)
    type = serializers.ChoiceField(choices=TYPES)
    size = money(min_value=Decimal("1E-18"), help_text="In the base asset; rounded down to the exchange's size step.")
    price = money(
        min_value=Decimal("1E-18"),
        required=False,
        allow_null=True,
        help_text="Limit orders: rounded to the tick, never past it.",
    )

    def validate(self, data):
        if data["type"] == "limit" and data.get("price") is None:
            raise serializers.ValidationError({"price": "A limit order needs a price."})
        return data


class PlaceInput(TicketInput):
    client_order_id = serializers.RegexField(
        r"^[A-Za-z0-9]{8,32}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="From the preview; a new one is made where left out.",
    )


class InstrumentSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    base = serializers.CharField()
    quote = serializers.CharField()
    price_tick = money()
    size_step = money()
    min_size = money()


class PreviewSerializer(serializers.Serializer):
    instrument = InstrumentSerializer()
    side = serializers.CharField(source="ticket.side")
    type = serializers.CharField(source="ticket.type")
    size = money(source="ticket.size")
    limit_price = money(source="ticket.price", allow_null=True)
    client_order_id = serializers.CharField(source="ticket.client_order_id")
    price, funds, fee_rate, fee = money(), money(), money(), money()
    base_before, base_after, quote_before, quote_after = money(), money(), money(), money()
    rounded = serializers.BooleanField()


class FillSerializer(serializers.Serializer):
    trade_id = serializers.CharField()
    price, size, fee = money(), money(), money()
    fee_currency = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True)


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    base = serializers.CharField()
    quote = serializers.CharField()
    side = serializers.CharField()
    type = serializers.CharField()
    size = money()
    price = money(allow_null=True)
    status = serializers.CharField()
    filled_size, filled_funds, fee = money(), money(), money()
    fee_currency = serializers.CharField()
    client_order_id = serializers.CharField()
    exchange_order_id = serializers.CharField()
    attribution = serializers.DictField()
    attributed = serializers.BooleanField(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()


class OrderListSerializer(serializers.Serializer):
    open = OrderSerializer(many=True)
    history = OrderSerializer(many=True)


class ConnectionOrders(APIView):
    @extend_schema(operation_id="v1_connections_orders_list", responses={200: OrderListSerializer})
    def get(self, request, pk):
        """The connection's open orders and order history (newest first)."""
        connection = own_connection(request, pk)
        open_orders, history = selectors.connection_orders(connection=connection)
        return Response(OrderListSerializer({"open": open_orders, "history": history}).data)

    @extend_schema(parameters=[IDEMPOTENCY_KEY], request=PlaceInput, responses={201: OrderSerializer})
    def post(self, request, pk):
        """Place an order (201). With an Idempotency-Key, a retry answers the first result and places nothing."""
        connection = trading_connection(request, pk)
        data = PlaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        client_order_id = values.pop("client_order_id") or trading_hooks(connection.exchange).new_client_order_id(
            clients.connection_api(connection)
        )

        def place():
            try:
                order = services.order_place(
                    connection=connection, client_order_id=client_order_id, request=request, **values
                )
            except FAILURES as error:
                raise refusal(connection, error)
            return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)

        return idempotent(request, operation=f"trade-place:{connection.pk}", handle=place)


class ConnectionOrderPreview(APIView):
    @extend_schema(request=TicketInput, responses={200: PreviewSerializer})
    def post(self, request, pk):
        """What the order would be (rounded to the increments), its fee and the balances after; places nothing."""
        connection = trading_connection(request, pk)
        data = TicketInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            found = services.order_preview(connection=connection, **data.validated_data)
        except FAILURES as error:
            raise refusal(connection, error)
        return Response(PreviewSerializer(found).data)


class ConnectionOrderDetail(APIView):
    @extend_schema(responses={200: OrderSerializer})
    def get(self, request, pk, order_pk):
        """The order with its status and fills as the exchange reports them now."""
        connection = own_connection(request, pk)
        order = selectors.own_order(connection=connection, order_id=order_pk)
        try:
            fills = services.order_refresh(order=order)
        except FAILURES as error:
            raise refusal(connection, error)
        return Response({**OrderSerializer(order).data, "fills": FillSerializer(fills, many=True).data})


@extend_schema(parameters=[IDEMPOTENCY_KEY])
class ConnectionOrderCancel(APIView):
    @extend_schema(request=None, responses={200: OrderSerializer})
    def post(self, request, pk, order_pk):
        connection = own_connection(request, pk)
        order = selectors.own_order(connection=connection, order_id=order_pk)

        def cancel():
            try:
                cancelled = services.order_cancel(order=order, request=request)
            except FAILURES as error:
                raise refusal(connection, error)
            return Response(OrderSerializer(cancelled).data)

        return idempotent(request, operation=f"trade-cancel:{order.pk}", handle=cancel)
