"""The portal's pages that show the tenant's exchanges: the dashboard and each server's logo."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from broker_portal.tenancy import get_for_tenant
from broker_portal.uploads import logo_content_type
from broker_portal.views import logo_response

from .models import ExchangeCredential
from .selectors import dashboard_totals
from .services import dashboard_cards


@login_required
def dashboard(request):
    cards = dashboard_cards(tenant=request.tenant, user=request.user)
    return render(
        request,
        "portal/dashboard.html",
        {"cards": cards, "totals": dashboard_totals(cards, request.tenant.reference_currency)},
    )


@require_GET
def credential_logo(request, credential_id: int):
    """A server's logo, at its own tenant's hosts only (another's answer "not found")."""
    credential = get_for_tenant(ExchangeCredential.objects.only("tenant_id", "logo"), request.tenant, pk=credential_id)
    return logo_response(credential.logo, content_type=logo_content_type(credential.logo.name))
