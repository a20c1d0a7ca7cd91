"""Which tenant a request is for, and access to rows only through that tenant."""

from typing import TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseNotFound
from django.shortcuts import redirect
from django.urls import reverse

from .models import Membership, Tenant, TenantHost

RowT = TypeVar("RowT", bound=Model)

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


# The tenant a session was signed in at (its id), written at sign-in and checked on every request.
SESSION_TENANT_KEY = "portal_tenant_id"


class SessionTenantMiddleware:
    """A session works only at the tenant it was signed in at, and only while its user is a member there.

    Without this a member of one broker could carry their session cookie to another broker's host and be
    signed in there. A session presented elsewhere, or whose user has left the tenant, is ended (ASVS V3.3.1).
    Runs after AuthenticationMiddleware, so pages, the admin and the API's session authentication all see an
    anonymous user afterwards."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        tenant = getattr(request, "tenant", None)
        user = getattr(request, "user", None)
        if tenant is not None and user is not None and user.is_authenticated:
            reason = session_refusal(request, tenant, user)
            if reason:
                end_session(request, tenant, user, reason)
        return self.get_response(request)


def session_refusal(request: HttpRequest, tenant: Tenant, user) -> str:
    """Why this signed-in session may not be used at this tenant, or "" when it may."""
    bound = request.session.get(SESSION_TENANT_KEY)
    if bound is not None and bound != tenant.pk:
        return "signed_in_at_another_tenant"
    # A session signed in before sessions were bound has no tenant: the membership check alone holds it to the
    # tenants its user belongs to, until it expires (binding it here would cost a session write per request).
    if not (user.is_superuser or membership_of(request) is not None):
        return "not_a_member"
    return ""


def end_session(request: HttpRequest, tenant: Tenant, user, reason: str) -> None:
    from .audit import record_audit_event

    record_audit_event(
        tenant=tenant,
        action="account.session_refused",
        actor=user,
        target=user,
        request=request,
        details={"reason": reason},
    )
    logout(request)  # flushes the session from the store, so it is ended at its own tenant too
    request.__dict__.pop("_membership", None)


def bind_session_to_tenant(request: HttpRequest) -> None:
    """At sign-in: the session belongs to this request's tenant from now on."""
    tenant = getattr(request, "tenant", None)
    if tenant is not None and hasattr(request, "session"):
        request.session[SESSION_TENANT_KEY] = tenant.pk


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


def for_tenant(queryset: QuerySet[RowT], tenant: Tenant) -> QuerySet[RowT]:
    return queryset.filter(tenant=tenant)


def get_for_tenant(queryset: QuerySet[RowT], tenant: Tenant, **lookup) -> RowT:
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
