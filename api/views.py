"""One view per operation; each parses input and calls the same services and selectors as the pages."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from broker_portal.models import AuditEvent
from broker_portal.tenancy import get_for_tenant, is_broker_admin
from connectors import services, token_refresh
from connectors.base.views import PermissionForm, provider_for
from connectors.models import ExchangeConnection
from connectors.selectors import connect_url

from .errors import DomainError
from .pagination import StrictCursorPagination
from .permissions import StaffMfaSetUp
from .serializers import (
    AuditEventFilter,
    AuditEventSerializer,
    BalancesSerializer,
    ConnectionFilter,
    ConnectionSerializer,
    StartConnectInput,
    StartConnectOutput,
)


class IsBrokerAdmin(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and is_broker_admin(request))


def own_connections(request) -> QuerySet:
    # Secrets are read only where used, so one no key opens breaks its connection alone (without_secrets).
    return ExchangeConnection.objects.filter(tenant=request.tenant, user=request.user).without_secrets()


def own_connection(request, pk) -> ExchangeConnection:
    return get_for_tenant(own_connections(request), request.tenant, pk=pk)


def filters(serializer_class, request) -> dict:
    """The query's filters, validated like any input (a bad one is a 400, never a 500)."""
    # A plain dict, so an empty value is checked like any other (HTML-form rules would drop it).
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(parameters=[ConnectionFilter])
class ConnectionList(generics.ListAPIView):
    serializer_class = ConnectionSerializer

    def get_queryset(self):
        # A list shows no secret, so none is read (or decrypted) beyond the API key's masked ends.
        return own_connections(self.request).filter(**filters(ConnectionFilter, self.request)).order_by("pk")


class ConnectionDetail(generics.RetrieveAPIView):
    serializer_class = ConnectionSerializer

    def get_object(self):
        return own_connection(self.request, self.kwargs["pk"])


class ConnectionStart(APIView):
    @extend_schema(request=StartConnectInput, responses={200: StartConnectOutput})
    def post(self, request, exchange):
        data = StartConnectInput(data=request.data)
        data.is_valid(raise_exception=True)
        server = data.validated_data["server"]
        provider = provider_for(request, exchange, server)
        problem = provider.configuration_problem()
        if problem:
            raise DomainError(
                f"{provider.name} cannot be connected here yet: the broker's setup needs fixing. {problem}"
            )
        form = PermissionForm({"permissions": data.validated_data["permissions"]}, provider=provider)
        if not form.is_valid():
            raise DomainError(f"Choose from the permissions {provider.name} offers here.")
        output = {"connect_url": request.build_absolute_uri(connect_url(exchange, server))}
        if request.auth is None:
            # A browser session: the flow's state lives in this session, so it can leave for the exchange (counted
            # and audited as the page's start is; a token's caller starts at the page it is pointed to).
            redirect = services.connection_authorization_start(
                provider=provider, request=request, permissions=form.cleaned_data["permissions"]
            )
            output["authorize_url"] = redirect["Location"]
        return Response(StartConnectOutput(output).data)


class ConnectionRefresh(APIView):
    @extend_schema(request=None, responses={202: ConnectionSerializer})
    def post(self, request, pk):
        connection = own_connection(request, pk)
        token_refresh.connections_refresh_now(connection_ids=[connection.pk], request=request)
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_202_ACCEPTED)


class ConnectionDisconnect(APIView):
    @extend_schema(request=None, responses={200: ConnectionSerializer})
    def post(self, request, pk):
        connection = own_connection(request, pk)
        provider = provider_for(request, connection.exchange, connection.server_slug, enabled_only=False)
        connection = services.connection_disconnect(provider=provider, connection=connection, request=request)
        return Response(ConnectionSerializer(connection).data)


class ConnectionBalances(APIView):
    @extend_schema(responses={200: BalancesSerializer})
    def get(self, request, pk):
        return Response(BalancesSerializer(services.connection_balances(own_connection(request, pk))).data)


@extend_schema(parameters=[AuditEventFilter])
class AuditEventList(generics.ListAPIView):
    serializer_class = AuditEventSerializer
    permission_classes = [StaffMfaSetUp, IsBrokerAdmin]  # replaces the defaults, so names the MFA rule again
    pagination_class = StrictCursorPagination  # newest first, through audit_tenant_recent_id

    def get_queryset(self):
        return AuditEvent.objects.filter(tenant=self.request.tenant, **filters(AuditEventFilter, self.request))
