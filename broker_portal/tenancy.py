"""Which tenant a request is for, and access to rows only through that tenant."""

from django.conf import settings
from django.contrib import messages
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseNotFound
from django.shortcuts import redirect
from django.urls import reverse

from .models import Membership, Tenant, TenantHost

# Paths that belong to no tenant: static files and, where mounted, the exchange sandbox.
UNTENANTED_PREFIXES = ("/static/",)
SANDBOX_PREFIX = "/sandbox/"


def host_without_port(request: HttpRequest) -> str:
    host = request.get_host().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def tenant_for_host(host: str) -> Tenant | None:
    tenant_host = TenantHost.objects.select_related("tenant").filter(host=host).first()
    return tenant_host.tenant if tenant_host else None


class TenantMiddleware:
    """Sets ``request.tenant`` from the host; an unknown host gets a plain 404, never another tenant."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        path = request.path_info
        if path.startswith(UNTENANTED_PREFIXES) or (settings.EXCHANGE_SANDBOX and path.startswith(SANDBOX_PREFIX)):
            request.tenant = None
            return self.get_response(request)
        request.tenant = tenant_for_host(host_without_port(request))
        if request.tenant is None:
            return HttpResponseNotFound("Not found", content_type="text/plain")
        return self.get_response(request)


def membership_of(request: HttpRequest) -> Membership | None:
    """The signed-in user's membership at this request's tenant, looked up once per request."""
    if not hasattr(request, "_membership"):
        user = getattr(request, "user", None)
        tenant = getattr(request, "tenant", None)
        request._membership = (
            Membership.objects.filter(tenant=tenant, user=user).first()
            if tenant is not None and user is not None and user.is_authenticated
            else None
        )
    return request._membership


def has_role(request: HttpRequest, *roles: str) -> bool:
    membership = membership_of(request)
    return membership is not None and membership.role in roles


def is_broker_admin(request: HttpRequest) -> bool:
    return has_role(request, Membership.Role.BROKER_ADMIN)


def for_tenant(queryset: QuerySet, tenant: Tenant) -> QuerySet:
    return queryset.filter(tenant=tenant)


def get_for_tenant(queryset: QuerySet, tenant: Tenant, **lookup) -> Model:
    """One row of this tenant; a missing row and another tenant's row are the same "not found"."""
    try:
        return for_tenant(queryset, tenant).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError):
        raise Http404("Not found")


def tenant_context(request: HttpRequest) -> dict:
    return {"tenant": getattr(request, "tenant", None), "membership": membership_of(request)}


STAFF_ROLES = (Membership.Role.BROKER_ADMIN, Membership.Role.ACCOUNTANT)
# The API's own endpoints are guarded by its permission ``api.permissions.StaffMfaSetUp`` instead: only the API
# knows who an API token belongs to, and it answers in its error body rather than with a redirect.
MFA_GUARDED_PREFIXES = ("/admin/", "/exports/", "/api/tokens/")


class StaffMfaMiddleware:
    """Broker admins and accountants set up MFA before they reach the admin, exports or API tokens."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path_info.startswith(MFA_GUARDED_PREFIXES) and needs_mfa_setup(request):
            messages.warning(request, "Set up two-factor authentication before you continue.")
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


def needs_mfa_setup(request: HttpRequest) -> bool:
    from allauth.mfa.models import Authenticator

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if not (user.is_superuser or has_role(request, *STAFF_ROLES)):
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
