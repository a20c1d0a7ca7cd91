"""The admin every tenant host serves: broker admins see their own tenant, superusers see all."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class PortalAdminSite(admin.AdminSite):
    site_header = "Broker portal administration"

    def has_permission(self, request):
        from .tenancy import is_broker_admin

        user = request.user
        return user.is_active and (user.is_superuser or is_broker_admin(request))

    def each_context(self, request):
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            context["site_header"] = f"{tenant.name} administration"
            context["site_title"] = tenant.name
        return context


class PortalAdminConfig(AdminConfig):
    default_site = "broker_portal.admin_site.PortalAdminSite"
