from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .selectors import tenant_offered_exchanges


@login_required
def dashboard(request):
    return render(request, "portal/dashboard.html", {"exchanges": tenant_offered_exchanges(tenant=request.tenant)})


@require_GET
def tenant_logo(request):
    logo = request.tenant.logo
    if not logo:
        raise Http404("No logo")
    response = FileResponse(logo.open("rb"))
    response["Cache-Control"] = "public, max-age=300"
    return response
