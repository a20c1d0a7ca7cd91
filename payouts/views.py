"""The accountant's file of payouts, from the exports page: staff only, as every tenant-wide export."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from broker_portal.tenancy import membership_of
from exports.selectors import is_export_staff

from . import services


@login_required
@require_GET
def payouts_csv(request):
    if not is_export_staff(membership_of(request)):
        raise Http404("Not found")
    response = HttpResponse(services.payouts_export(tenant=request.tenant, request=request), content_type="text/csv")
    name = f"{request.tenant.slug}-payouts-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
