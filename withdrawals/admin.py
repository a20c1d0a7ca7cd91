from django.contrib import admin

from broker_portal.admin import ReadOnlyAdminMixin, TenantScopedAdmin, amount_column
from connectors.admin import ExchangeFilter

from .models import Withdrawal, WithdrawalLimit
from .selectors import withdrawal_explanation

AMOUNT_FIELDS = {
    name: amount_column(name)
    for name in ("amount", "chain_fee", "service_fee", "total_debit", "amount_received", "price_usdt")
}


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Withdrawals are read-only here: only the wizard and the exchange's answers change them."""

    list_display = [
        "created_at",
        "user",
        "exchange",
        amount_column("amount"),
        "currency",
        "withdraw_type",
        "state",
        "why",
        amount_column("total_debit"),
        "exchange_withdrawal_id",
        "tenant",
    ]
    # The currency is searched, not listed: its filter would read the distinct currencies of every row.
    list_filter = ["state", ExchangeFilter, "withdraw_type"]
    search_fields = ["user__email", "exchange_withdrawal_id", "destination", "=currency"]
    list_select_related = ["user", "tenant"]
    fields = [
        "tenant",
        "user",
        "connection",
        "exchange",
        "idempotency_key",
        "state",
        "why",
        "currency",
        "chain",
        "withdraw_type",
        "destination",
        "memo",
        "remark",
        "amount",
        "fee_deduct_type",
        "chain_fee",
        "service_fee",
        "total_debit",
        "amount_received",
        "price_usdt",
        "price_at",
        "quote_expires_at",
        "stepped_up_at",
        "factors_requested_at",
        "submit_started_at",
        "exchange_withdrawal_id",
        "exchange_status",
        "last_error",
        "submitted_at",
        "completed_at",
        "created_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        # Amounts as people read them; the rest as stored.
        return [AMOUNT_FIELDS.get(name, name) for name in super().get_readonly_fields(request, obj)]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    @admin.display(description="Why")
    def why(self, obj) -> str:
        """A failure's reason, or how long an open one has waited at the exchange."""
        return withdrawal_explanation(withdrawal=obj)


@admin.register(WithdrawalLimit)
class WithdrawalLimitAdmin(TenantScopedAdmin):
    """The broker admin's caps, in USDT over a rolling window, per user or for the whole tenant."""

    list_display = ["scope", "max_usdt", "window_hours", "tenant"]
