from allauth.mfa.totp.views import ActivateTOTPView
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from connectors.selectors import dashboard_totals
from connectors.services import dashboard_cards

from .branding import theme_variables
from .models import ExchangeCredential
from .tenancy import get_for_tenant
from .uploads import logo_content_type


@login_required
def dashboard(request):
    cards = dashboard_cards(tenant=request.tenant, user=request.user)
    return render(request, "portal/dashboard.html", {"cards": cards, "totals": dashboard_totals(cards)})


@require_GET
def tenant_theme(request):
    """The tenant's colours as a stylesheet, so pages need no inline style under the CSP."""
    tenant = request.tenant
    variables = theme_variables(primary=tenant.primary_color, accent=tenant.accent_color)
    css = ":root { " + " ".join(f"{name}: {value};" for name, value in variables.items()) + " }\n"
    response = HttpResponse(css, content_type="text/css")
    response["Cache-Control"] = "public, max-age=300"
    return response


def logo_response(logo, content_type: str | None = None) -> FileResponse:
    if not logo:
        raise Http404("No logo")
    response = FileResponse(logo.open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def tenant_logo(request):
    return logo_response(request.tenant.logo)


@require_GET
def credential_logo(request, credential_id: int):
    """A server's logo, at its own tenant's hosts only (another's answer "not found")."""
    credential = get_for_tenant(ExchangeCredential.objects.only("tenant_id", "logo"), request.tenant,
                                pk=credential_id)
    return logo_response(credential.logo, content_type=logo_content_type(credential.logo.name))


# Where the TOTP setup sends the user once it is done: the page that asked for it (a withdrawal waiting for the
# portal's 2FA). Kept in the session, since allauth's form posts to its own URL without the query string.
MFA_SETUP_NEXT_SESSION_KEY = "mfa-setup-next"


class ActivateTOTPThenBack(ActivateTOTPView):
    """allauth's authenticator setup, which afterwards goes back to ``?next=`` (a path on this host only)."""

    def get(self, request, *args, **kwargs):
        next_url = request.GET.get("next", "")
        if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts=None) and next_url.startswith("/"):
            request.session[MFA_SETUP_NEXT_SESSION_KEY] = next_url
        return super().get(request, *args, **kwargs)

    def get_success_url(self) -> str:
        next_url = self.request.session.pop(MFA_SETUP_NEXT_SESSION_KEY, "")
        if next_url:
            messages.success(self.request, "Two-factor authentication is on. Carry on where you were.")
            return next_url
        return super().get_success_url()


activate_totp_then_back = ActivateTOTPThenBack.as_view()
