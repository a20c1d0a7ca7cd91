"""The Receive page: each request parses input, calls one selector or service, and renders or redirects."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from broker_portal.tenancy import get_for_tenant
from connectors.base.api import DepositAddressPending, DepositAddressRefused, ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.models import ExchangeConnection
from connectors.token_refresh import RefreshFailed

from . import selectors, services


def own_connection(request, connection_id) -> ExchangeConnection:
    """The signed-in user's own connection at this tenant; anyone else's answers 404."""
    return get_for_tenant(ExchangeConnection.objects.filter(user=request.user), request.tenant, pk=connection_id)


def failure_message(connection: ExchangeConnection, error: Exception) -> str:
    """What the user reads when the exchange did not give an address."""
    name = connection.get_exchange_display()
    if isinstance(error, (DepositAddressRefused, DepositAddressPending, RefreshFailed)):
        return str(error)
    if isinstance(error, ExchangeUnavailable):
        return f"{name} cannot be reached right now; try again in a moment."
    return f"{name} refused: {error}"


FAILURES = (DepositAddressRefused, DepositAddressPending, ExchangeUnavailable, ExchangeAPIError, RefreshFailed)


@login_required
@require_GET
def receive(request, connection_id):
    connection = own_connection(request, connection_id)
    reason = selectors.deposit_capability(connection=connection)
    if reason:
        return render(request, "deposits/unavailable.html", {"connection": connection, "reason": reason})
    asset = request.GET.get("asset", "").strip().upper()
    network_id = request.GET.get("network", "")
    context = {
        "connection": connection,
        "asset": asset,
        "network_id": network_id,
        "assets": services.deposit_assets(connection=connection),
    }
    if asset:
        try:
            context["networks"] = networks = services.deposit_networks(connection=connection, asset=asset)
            if len(networks) == 1:
                network_id = networks[0].id
            # A network chosen for another asset (the asset was changed since) is no choice for this one.
            if any(network.id == network_id for network in networks):
                context["receive"] = services.deposit_address_get(
                    connection=connection, asset=asset, network_id=network_id
                )
        except FAILURES as error:
            context["error"] = failure_message(connection, error)
    return render(request, "deposits/receive.html", context)


@login_required
@require_POST
def receive_create(request, connection_id):
    connection = own_connection(request, connection_id)
    asset, network_id = request.POST.get("asset", "").strip().upper(), request.POST.get("network", "")
    try:
        address = services.deposit_address_create(
            connection=connection, asset=asset, network_id=network_id, request=request
        )
    except FAILURES as error:
        messages.error(request, failure_message(connection, error))
    else:
        if address.created:
            messages.success(request, f"A new {address.asset} address on {address.network.name} was created.")
    query = urlencode({"asset": asset, "network": network_id})
    return redirect(f"{reverse('receive', args=[connection.pk])}?{query}")
