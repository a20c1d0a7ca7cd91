"""The admin every tenant host serves: broker admins see their own tenant, superusers see all."""

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


class PortalAdminSite(admin.AdminSite):
    site_header = "Broker portal administration"

    def has_permission(self, request):
        from .tenancy import is_broker_admin

        user = request.user
        return user.is_active and (user.is_superuser or is_broker_admin(request))

    def login(self, request, extra_context=None):
        """Staff sign in where the portal asks for their second factor (allauth's sign-in, then TOTP), never on
        the admin's own form, which knows no second factor. Someone signed in without access is told so there."""
        if request.user.is_authenticated:
            return super().login(request, extra_context)
        wanted = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            wanted = reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('account_login')}?{urlencode({'next': wanted})}")

    def each_context(self, request):
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            context["site_header"] = f"{tenant.name} administration"
            context["site_title"] = tenant.name
        return context


class PortalAdminConfig(AdminConfig):
    default_site = "broker_portal.admin_site.PortalAdminSite"
