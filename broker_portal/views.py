from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from connectors.selectors import dashboard_cards


@login_required
def dashboard(request):
    return render(request, "portal/dashboard.html", {"cards": dashboard_cards(tenant=request.tenant, user=request.user)})


@require_GET
def tenant_theme(request):
    """The tenant's colours as a stylesheet, so pages need no inline style under the CSP."""
    tenant = request.tenant
    css = f":root {{ --brand: {tenant.primary_color}; --accent: {tenant.accent_color}; }}\n"
    response = HttpResponse(css, content_type="text/css")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def tenant_logo(request):
    logo = request.tenant.logo
    if not logo:
        raise Http404("No logo")
    response = FileResponse(logo.open("rb"))
    response["Cache-Control"] = "public, max-age=300"
    return response
