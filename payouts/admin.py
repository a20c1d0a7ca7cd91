"""Payout batches in the broker admin's Django admin: created through the service (a form of its own), resolved,
recorded as sent and checked by actions; only the transaction id of a payout is edited in place."""

from django.contrib import admin, messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from broker_portal.admin import TenantScopedAdmin
from broker_portal.tenancy import is_broker_admin
from connectors.models import ExchangeConnection

from . import selectors, services
from .forms import PayoutBatchForm, PayoutRowFormSet
from .models import Payout, PayoutBatch

PAYOUT_FIELDS = [
    "reference",
    "user",
    "connection",
    "asset",
    "network",
    "network_name",
    "amount",
    "address",
    "memo",
    "status",
    "error",
    "resolved_at",
    "txid",
    "sent_at",
    "received_at",
    "deposit",
]


class PayoutInline(admin.TabularInline):
    model = Payout
    extra = 0
    can_delete = False
    fields = PAYOUT_FIELDS
    # Only the transaction id is typed here; the rest is the service's.
    readonly_fields = [name for name in PAYOUT_FIELDS if name != "txid"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or is_broker_admin(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or is_broker_admin(request)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "connection__user", "deposit")


@admin.register(PayoutBatch)
class PayoutBatchAdmin(TenantScopedAdmin):
    list_display = [
        "name",
        "created_at",
        "created_by",
        "payouts_total",
        "payouts_resolved",
        "payouts_sent",
        "payouts_received",
        "payouts_late",
        "payouts_missing",
        "payouts_refused",
    ]
    fields = ["name", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    inlines = [PayoutInline]
    actions = ["resolve_addresses", "check_deposits", "export_csv"]
    audit_name = "payout_batch"

    def get_queryset(self, request):
        return selectors.with_status_counts(super().get_queryset(request))

    def add_view(self, request, form_url="", extra_context=None):
        """A batch is made by the service in one go (or refused with the reason shown), never row by row."""
        if not self.has_add_permission(request):
            return redirect("admin:index")
        connections = (
            ExchangeConnection.objects.filter(tenant=request.tenant)
            .select_related("user")
            .order_by("user__email", "exchange", "pk")
            .without_secrets()
        )
        batch_form = PayoutBatchForm(request.POST or None)
        rows = PayoutRowFormSet(request.POST or None, prefix="payouts", form_kwargs={"connections": connections})
        if request.method == "POST" and batch_form.is_valid() and rows.is_valid():
            items = [form.item() for form in rows.forms if form.has_changed() and form.cleaned_data]
            try:
                batch, created = services.payout_batch_create(
                    tenant=request.tenant,
                    name=batch_form.cleaned_data["name"],
                    items=items,
                    actor=request.user,
                    request=request,
                )
            except services.PayoutError as refused:
                batch_form.add_error(None, str(refused))
                for index, errors in refused.fields.items():
                    if not isinstance(errors, dict):
                        continue
                    for field, message in errors.items():
                        rows.forms[int(index)].add_error(field if field in rows.forms[0].fields else None, message)
            else:
                verb = "created" if created else "was created before with these references; nothing new was made"
                messages.success(
                    request,
                    f"The batch “{batch.name}” {verb}. Resolve the users' addresses when you are about to send.",
                )
                return redirect(reverse("admin:payouts_payoutbatch_change", args=[batch.pk]))
        return render(
            request,
            "admin/payouts/payoutbatch/add.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Add payout batch",
                "batch_form": batch_form,
                "rows": rows,
            },
        )

    def save_formset(self, request, form, formset, change):
        """The transaction id typed on a payout is recorded as its sending (audited by the service); nothing else
        of a payout is saved here."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if "txid" in inline_form.changed_data:
                payout = Payout.objects.get(pk=inline_form.instance.pk, batch=form.instance)
                try:
                    services.payout_record_sent(payout=payout, txid=inline_form.cleaned_data["txid"], request=request)
                except services.PayoutError as refused:
                    messages.error(request, str(refused))

    @admin.action(description="Resolve the users' deposit addresses now (at payout time)")
    def resolve_addresses(self, request, queryset):
        totals: dict[str, int] = {}
        for batch in queryset:
            for status, count in services.payout_batch_resolve(batch=batch, request=request).items():
                totals[status] = totals.get(status, 0) + count
        labels = dict(Payout.Status.choices)
        summary = ", ".join(f"{count} {labels[status].lower()}" for status, count in sorted(totals.items()))
        level = messages.WARNING if totals.get(Payout.Status.REFUSED) else messages.SUCCESS
        self.message_user(request, f"Addresses: {summary or 'nothing to resolve'}.", level)

    @admin.action(description="Check the users' deposit history now")
    def check_deposits(self, request, queryset):
        checked = services.payouts_check_deposits(batches=queryset)
        self.message_user(
            request,
            f"Reading the deposit history of {checked} connection(s); the statuses change as deposits are found.",
        )

    @admin.action(description="Export payouts (CSV)")
    def export_csv(self, request, queryset):
        body = services.payouts_export(
            tenant=request.tenant, request=request, batch_ids=list(queryset.values_list("pk", flat=True))
        )
        response = HttpResponse(body, content_type="text/csv")
        name = f"{request.tenant.slug}-payouts-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @admin.display(description="Payouts")
    def payouts_total(self, obj):
        return obj.payouts_total

    @admin.display(description="Resolved")
    def payouts_resolved(self, obj):
        return obj.payouts_resolved

    @admin.display(description="Sent")
    def payouts_sent(self, obj):
        return obj.payouts_sent

    @admin.display(description="Received")
    def payouts_received(self, obj):
        return obj.payouts_received

    @admin.display(description="Late")
    def payouts_late(self, obj):
        return obj.payouts_late

    @admin.display(description="Missing")
    def payouts_missing(self, obj):
        return obj.payouts_missing

    @admin.display(description="Refused")
    def payouts_refused(self, obj):
        return obj.payouts_refused
