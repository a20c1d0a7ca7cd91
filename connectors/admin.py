from django.contrib import admin, messages

from broker_portal.admin import TenantScopedAdmin

from .models import ExchangeConnection
from .refresh import connection_health, connections_refresh_now


@admin.register(ExchangeConnection)
class ExchangeConnectionAdmin(TenantScopedAdmin):
    """Connections at a glance; tokens and keys never leave the encrypted columns."""

    change_list_template = "connectors/admin/connection_change_list.html"
    list_display = ["user", "exchange", "status", "access_expires_at", "refresh_expires_at", "last_refreshed_at",
                    "refresh_failures", "next_refresh_attempt_at", "last_error", "secrets", "tenant"]
    list_filter = ["status", "exchange"]
    search_fields = ["user__email", "exchange_account_id"]
    list_select_related = ["user", "tenant"]
    ordering = ["exchange", "created_at", "id"]  # total, so no "-pk" is appended; index connection_tenant_order
    fields = ["tenant", "user", "exchange", "exchange_account_id", "status", "permissions", "masked_api_key",
              "secrets", "access_expires_at", "refresh_expires_at", "last_refreshed_at", "refresh_failures",
              "next_refresh_attempt_at", "refresh_lapse_warned_at", "last_error", "details", "created_at"]
    actions = ["refresh_now"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def get_queryset(self, request):
        return super().get_queryset(request).without_secrets()

    @admin.display(description="Secrets")
    def secrets(self, obj) -> str:
        unreadable = obj.unreadable_secrets
        # Which keys a dropped FERNET_KEYS entry or a damaged row took: the user must connect again.
        return f"Unreadable, no key opens: {', '.join(unreadable)}" if unreadable else "Readable"

    def has_add_permission(self, request):
        return False  # only a user's own OAuth consent creates a connection

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the disconnect service ends a connection, revoking its API key at the exchange first

    def changelist_view(self, request, extra_context=None):
        health = connection_health(connections=self.get_queryset(request))
        return super().changelist_view(request, {**(extra_context or {}), **health})

    @admin.action(description="Refresh tokens now", permissions=["view"])
    def refresh_now(self, request, queryset):
        count = connections_refresh_now(connection_ids=list(queryset.values_list("pk", flat=True)), request=request)
        skipped = queryset.count() - count
        self.message_user(request, f"Refresh queued for {count} connection(s)."
                          + (f" {skipped} need their user to reconnect, or are being refreshed." if skipped else ""),
                          messages.SUCCESS if count else messages.WARNING)
