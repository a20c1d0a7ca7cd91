"""Deposit addresses through the API: the same selectors and service as the Receive page."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.base.api import DepositAddressPending, DepositAddressRefused, ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.token_refresh import RefreshFailed
from deposits import selectors, services

from .errors import DomainError
from .serializers import (
    DepositAddressSerializer,
    DepositNetworksQuery,
    DepositNetworksSerializer,
    DepositQuery,
)
from .views import filters, own_connection


def refusal(connection, error: Exception) -> DomainError:
    if isinstance(error, ExchangeUnavailable):
        return DomainError(
            f"{connection.get_exchange_display()} cannot be reached right now; try again in a moment.",
            code="exchange_unavailable",
        )
    if isinstance(error, DepositAddressPending):
        return DomainError(str(error), code="address_pending")
    if isinstance(error, DepositAddressRefused):
        return DomainError(str(error), code=error.reason)
    if isinstance(error, RefreshFailed):
        return DomainError(str(error), code="reconnect")
    return DomainError(f"{connection.get_exchange_display()} refused: {error}", code="exchange_refused")


FAILURES = (DepositAddressRefused, DepositAddressPending, ExchangeUnavailable, ExchangeAPIError, RefreshFailed)


def usable_connection(request, pk):
    """The user's own connection (404 for anyone else's, before any input is looked at), if it may show addresses."""
    connection = own_connection(request, pk)
    reason = selectors.deposit_capability(connection=connection)
    if reason:
        raise DomainError(reason, code="permission")
    return connection


def address_data(asset, network, address, *, can_create: bool) -> dict:
    return {
        "asset": asset,
        "network": network,
        "address": address.address if address else None,
        "memo": address.memo if address else "",
        "memo_label": address.memo_label if address else "Memo",
        "minimum": network.minimum,
        "expires_at": address.expires_at if address else None,
        "created": bool(address and address.created),
        "can_create": can_create,
    }


class ConnectionDepositNetworks(APIView):
    @extend_schema(parameters=[DepositNetworksQuery], responses={200: DepositNetworksSerializer})
    def get(self, request, pk):
        """The networks an asset can be deposited on at this connection's exchange."""
        connection = usable_connection(request, pk)
        asset = filters(DepositNetworksQuery, request)["asset"].upper()
        try:
            networks = services.deposit_networks(connection=connection, asset=asset)
        except FAILURES as error:
            raise refusal(connection, error)
        return Response(DepositNetworksSerializer({"asset": asset, "networks": networks}).data)


class ConnectionDepositAddress(APIView):
    @extend_schema(parameters=[DepositQuery], responses={200: DepositAddressSerializer})
    def get(self, request, pk):
        """The user's deposit address for an asset on a network (``address`` null where there is none yet)."""
        connection = usable_connection(request, pk)
        query = filters(DepositQuery, request)
        try:
            found = services.deposit_address_get(
                connection=connection, asset=query["asset"], network_id=query["network"]
            )
        except FAILURES as error:
            raise refusal(connection, error)
        return Response(
            DepositAddressSerializer(
                address_data(found.asset, found.network, found.address, can_create=found.can_create)
            ).data
        )

    @extend_schema(request=DepositQuery, responses={201: DepositAddressSerializer, 200: DepositAddressSerializer})
    def post(self, request, pk):
        """Create an address where there is none and the exchange makes them (201); one that exists is answered
        as it is (200), so repeating the request creates nothing more."""
        connection = usable_connection(request, pk)
        data = DepositQuery(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            address = services.deposit_address_create(
                connection=connection,
                asset=data.validated_data["asset"],
                network_id=data.validated_data["network"],
                request=request,
            )
        except FAILURES as error:
            raise refusal(connection, error)
        body = address_data(address.asset, address.network, address, can_create=False)
        return Response(
            DepositAddressSerializer(body).data,
            status=status.HTTP_201_CREATED if address.created else status.HTTP_200_OK,
        )
