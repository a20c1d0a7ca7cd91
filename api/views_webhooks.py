"""Webhook endpoints through the API, for broker admins: the same services as the admin."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from broker_portal.tenancy import get_for_tenant
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .errors import DomainError
from .permissions import StaffMfaSetUp
from .serializers_webhooks import (
    DeliveryFilter,
    DeliverySerializer,
    EndpointCreateInput,
    EndpointSerializer,
    EndpointUpdateInput,
    EndpointWithSecretSerializer,
    EventTypeSerializer,
    ReplayFailedInput,
    ReplayFailedOutput,
    event_types,
)
from .views import IsBrokerAdmin, filters

BROKER_ADMINS = [StaffMfaSetUp, IsBrokerAdmin]  # replaces the defaults, so names the MFA rule again


class WebhookView(APIView):
    """Broker admins only; JSON bodies only (a form's every value is text, so its types cannot be checked)."""

    permission_classes = BROKER_ADMINS
    parser_classes = [JSONParser]


def own_endpoints(request) -> QuerySet:
    return WebhookEndpoint.objects.filter(tenant=request.tenant).order_by("pk")


def own_endpoint(request, pk) -> WebhookEndpoint:
    return get_for_tenant(own_endpoints(request), request.tenant, pk=pk)


def refused(error: services.WebhookError) -> DomainError:
    return DomainError(str(error))


class EndpointListCreate(WebhookView, generics.ListAPIView):
    serializer_class = EndpointSerializer

    def get_queryset(self):
        return own_endpoints(self.request)

    @extend_schema(request=EndpointCreateInput, responses={201: EndpointWithSecretSerializer})
    def post(self, request):
        """A new endpoint; the answer holds its signing secret, this once."""
        data = EndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint, secret = services.endpoint_create(tenant=request.tenant, request=request, **data.validated_data)
        except services.WebhookError as error:
            raise refused(error)
        endpoint.secret = secret
        return Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetail(WebhookView):
    @extend_schema(responses={200: EndpointSerializer})
    def get(self, request, pk):
        return Response(EndpointSerializer(own_endpoint(request, pk)).data)

    @extend_schema(request=EndpointUpdateInput, responses={200: EndpointSerializer})
    def patch(self, request, pk):
        endpoint = own_endpoint(request, pk)
        data = EndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint = services.endpoint_update(endpoint=endpoint, request=request, **data.validated_data)
        except services.WebhookError as error:
            raise refused(error)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        services.endpoint_delete(endpoint=own_endpoint(request, pk), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecret(WebhookView):
    @extend_schema(request=None, responses={200: EndpointWithSecretSerializer})
    def post(self, request, pk):
        """A new secret, shown this once; the previous one signs beside it for WEBHOOK_SECRET_OVERLAP_HOURS."""
        endpoint, secret = services.endpoint_rotate_secret(endpoint=own_endpoint(request, pk), request=request)
        endpoint.secret = secret
        return Response(EndpointWithSecretSerializer(endpoint).data)


class EndpointTestFire(WebhookView):
    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, pk):
        """Send a ``webhook.test`` event to this endpoint; follow it in its deliveries."""
        delivery = services.endpoint_test_fire(endpoint=own_endpoint(request, pk), request=request)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(parameters=[DeliveryFilter])
class DeliveryList(WebhookView, generics.ListAPIView):
    """The endpoint's delivery log, newest first."""

    serializer_class = DeliverySerializer

    def get_queryset(self):
        endpoint = own_endpoint(self.request, self.kwargs["pk"])
        query = filters(DeliveryFilter, self.request)
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-pk")
        if "status" in query:
            deliveries = deliveries.filter(status=query["status"])
        if "since" in query:
            deliveries = deliveries.filter(event__created_at__gte=query["since"])
        if "until" in query:
            deliveries = deliveries.filter(event__created_at__lt=query["until"])
        return deliveries


class DeliveryReplay(WebhookView):
    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, pk, delivery_pk):
        """Send this delivery again, with the same ``webhook-id``."""
        endpoint = own_endpoint(request, pk)
        delivery = get_for_tenant(
            WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event", "endpoint"),
            request.tenant,
            pk=delivery_pk,
        )
        delivery = services.delivery_replay(delivery=delivery, request=request)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveriesReplayFailed(WebhookView):
    @extend_schema(request=ReplayFailedInput, responses={202: ReplayFailedOutput})
    def post(self, request, pk):
        """Send again every failed delivery of this endpoint whose event happened in [since, until)."""
        endpoint = own_endpoint(request, pk)
        data = ReplayFailedInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            count = services.deliveries_replay_failed(endpoint=endpoint, request=request, **data.validated_data)
        except services.WebhookError as error:
            raise refused(error)
        return Response(ReplayFailedOutput({"replayed": count}).data, status=status.HTTP_202_ACCEPTED)


class EventTypeList(WebhookView):
    @extend_schema(responses={200: EventTypeSerializer(many=True)})
    def get(self, request):
        """The event catalogue: each type's meaning and the JSON Schema of its data."""
        return Response(EventTypeSerializer(event_types(), many=True).data)
