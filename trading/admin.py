from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path

from broker_portal.admin import ReadOnlyAdminMixin, TenantScopedAdmin
from connectors.exchanges import EXCHANGES

from .models import TradeOrder
from .selectors import attributed_volume


@admin.register(TradeOrder)
class TradeOrderAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Orders placed in the portal and those the attribution check found at the exchanges; with the attributed
    volume per exchange and day (the "Attributed volume" page)."""

    list_display = [
        "created_at",
        "exchange",
        "symbol",
        "side",
        "type",
        "size",
        "price",
        "status",
        "filled_funds",
        "attributed",
        "source",
        "user",
        "tenant",
    ]
    list_filter = ["exchange", "attributed", "source", "status"]
    list_select_related = ["user", "tenant"]
    search_fields = ["exchange_order_id", "client_order_id", "user__email"]
    change_list_template = "admin/trading/tradeorder/change_list.html"

    def get_urls(self):
        return [
            path("volume/", self.admin_site.admin_view(self.volume_view), name="trading_tradeorder_volume"),
            *super().get_urls(),
        ]

    def volume_view(self, request):
        if not self.has_view_permission(request):
            return self.admin_site.login(request)
        tenant = request.tenant
        rows = attributed_volume(tenant=tenant)
        names = {exchange_id: exchange.name for exchange_id, exchange in EXCHANGES.items()}
        return TemplateResponse(
            request,
            "admin/trading/volume.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Attributed volume",
                "rows": [(row, names.get(row.exchange, row.exchange)) for row in rows],
            },
        )
