from django.contrib import admin

from broker_portal.admin import TenantScopedAdmin, amount_column
from connectors.admin import ExchangeFilter

from .models import ExportJob, HistoryEntry


class ReadOnlyTenantAdmin(TenantScopedAdmin):
    """History comes from the exchanges and jobs from the export page; the admin only looks.

    Nothing is deleted here either: the sync never fetches older rows again, so a deleted history entry would be
    missing from every later export, and a deleted job would leave its file behind on disk.
    """

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyTenantAdmin):
    list_display = [
        "pk",
        "format",
        "scope",
        "date_from",
        "date_to",
        "status",
        "rows_written",
        "requested_by",
        "created_at",
        "expires_at",
        "tenant",
    ]
    list_filter = ["status", "format", "scope"]
    list_select_related = ["requested_by", "tenant"]


@admin.register(HistoryEntry)
class HistoryEntryAdmin(ReadOnlyTenantAdmin):
    list_display = [
        "occurred_at",
        "exchange",
        "kind",
        "currency",
        amount_column("amount"),
        amount_column("fee"),
        "user",
        "external_id",
        "tenant",
    ]
    list_filter = [ExchangeFilter, "kind"]
    search_fields = ["external_id", "txid", "user__email"]
    list_select_related = ["user", "tenant"]
    ordering = ["-occurred_at", "-id"]  # index history_tenant_time_id, read backwards
