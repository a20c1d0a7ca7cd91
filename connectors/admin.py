from django.contrib import admin
from django.db.models import Count

from broker_portal.admin import TenantScopedAdmin

from .models import ExchangeConnection


@admin.register(ExchangeConnection)
class ExchangeConnectionAdmin(TenantScopedAdmin):
    """Connections at a glance; tokens and keys never leave the encrypted columns."""

    list_display = ["user", "exchange", "status", "access_expires_at", "refresh_expires_at", "last_refreshed_at",
                    "last_error", "tenant"]
    list_filter = ["status", "exchange"]
    search_fields = ["user__email", "exchange_account_id"]
    list_select_related = ["user", "tenant"]
    fields = ["tenant", "user", "exchange", "exchange_account_id", "status", "permissions", "masked_api_key",
              "access_expires_at", "refresh_expires_at", "last_refreshed_at", "last_error", "details", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False  # only a user's own OAuth consent creates a connection

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        counts = self.get_queryset(request).order_by().values("status").annotate(count=Count("id"))
        extra_context = {**(extra_context or {}), "status_counts": {row["status"]: row["count"] for row in counts}}
        return super().changelist_view(request, extra_context)
