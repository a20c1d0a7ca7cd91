import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 38, "decimal_places": 18}
STATES = [
    "draft",
    "previewed",
    "stepped_up",
    "factors_requested",
    "submitting",
    "unknown",
    "processing",
    "succeeded",
    "failed",
    "cancelled",
]


class Withdrawal(models.Model):
    """One withdrawal from the wizard's first step to the exchange's final state.

    The draft lives here, server-side; the 2FA codes never do. Submission is a state machine: a row lock
    moves it from ``factors_requested`` to ``submitting`` once, and only the request that made that move
    calls the exchange.
    """

    class State(models.TextChoices):
        DRAFT = "draft", "Details entered"
        PREVIEWED = "previewed", "Fees previewed"
        STEPPED_UP = "stepped_up", "Identity confirmed"
        FACTORS_REQUESTED = "factors_requested", "Waiting for codes"
        SUBMITTING = "submitting", "Sending"
        UNKNOWN = "unknown", "Checking with the exchange"
        PROCESSING = "processing", "Processing at the exchange"
        SUCCEEDED = "succeeded", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class WithdrawType(models.TextChoices):
        ADDRESS = "ADDRESS", "Address"
        UID = "UID", "KuCoin UID"
        MAIL = "MAIL", "E-mail"
        PHONE = "PHONE", "Phone"

    class FeeDeductType(models.TextChoices):
        # KuCoin's meaning (withdrawal v3, level A): INTERNAL takes the fee from the amount, EXTERNAL from the
        # main account. Until migration 0003 the portal had them the other way round.
        INTERNAL = "INTERNAL", "Fees from the amount (recipient gets less)"
        EXTERNAL = "EXTERNAL", "Fees from my balance (recipient gets the full amount)"

    # States the wizard may still edit; from submitting on the row belongs to the exchange's answer.
    EDITABLE = (State.DRAFT, State.PREVIEWED, State.STEPPED_UP, State.FACTORS_REQUESTED)
    OPEN_AT_EXCHANGE = (State.SUBMITTING, State.UNKNOWN, State.PROCESSING)
    FINAL = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="withdrawals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.RESTRICT, related_name="withdrawals")
    connection = models.ForeignKey(
        "connectors.ExchangeConnection", on_delete=models.RESTRICT, related_name="withdrawals"
    )
    exchange = models.CharField(max_length=32)
    # Issued when the wizard starts; the same key always means the same withdrawal.
    idempotency_key = models.UUIDField(default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)

    # Step 1: details.
    currency = models.CharField(max_length=16)
    chain = models.CharField(max_length=32, blank=True, default="")
    # The network as the exchange names it for people (the chain above is its id), shown instead of the id.
    chain_name = models.CharField(max_length=64, blank=True, default="")
    withdraw_type = models.CharField(max_length=8, choices=WithdrawType.choices, default=WithdrawType.ADDRESS)
    destination = models.CharField(max_length=255)
    memo = models.CharField(max_length=128, blank=True, default="")
    remark = models.CharField(max_length=64, blank=True, default="")
    amount = models.DecimalField(**MONEY)
    fee_deduct_type = models.CharField(max_length=8, choices=FeeDeductType.choices, default=FeeDeductType.EXTERNAL)
    precision = models.PositiveSmallIntegerField(default=8)

    # Step 2: the preview, valid until quote_expires_at.
    chain_fee = models.DecimalField(**MONEY, null=True, blank=True)
    service_fee = models.DecimalField(**MONEY, null=True, blank=True)
    total_debit = models.DecimalField(**MONEY, null=True, blank=True)
    amount_received = models.DecimalField(**MONEY, null=True, blank=True)
    price_usdt = models.DecimalField(**MONEY, null=True, blank=True)
    price_at = models.DateTimeField(null=True, blank=True)
    # The tenant's reference currency at the quote, and its USDT price at the same exchange (null: unavailable).
    reference_currency = models.CharField(max_length=8, default="USDT")
    reference_price_usdt = models.DecimalField(**MONEY, null=True, blank=True)
    quote_expires_at = models.DateTimeField(null=True, blank=True)

    # Step 3: the portal's own MFA, just before sending.
    stepped_up_at = models.DateTimeField(null=True, blank=True)

    # Step 5: the exchange's 2FA transaction (never the codes).
    exchange_transaction_id = models.CharField(max_length=128, blank=True, default="")
    factors_all = models.JSONField(default=list, blank=True)
    factors_sent = models.JSONField(default=list, blank=True)
    factors_requested_at = models.DateTimeField(null=True, blank=True)

    # Step 6 and 7: the exchange's withdrawal.
    submit_started_at = models.DateTimeField(null=True, blank=True)
    exchange_withdrawal_id = models.CharField(max_length=128, blank=True, default="")
    exchange_status = models.CharField(max_length=32, blank=True, default="")
    # The blockchain's transaction id, once the exchange reports one.
    transaction_hash = models.CharField(max_length=128, blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user", "idempotency_key"], name="withdrawal_idempotency_key"),
            # One portal row per exchange withdrawal: a second submit cannot record the same one again.
            models.UniqueConstraint(
                fields=["connection", "exchange_withdrawal_id"],
                condition=~Q(exchange_withdrawal_id=""),
                name="withdrawal_one_row_per_exchange_id",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            models.CheckConstraint(condition=Q(state__in=STATES), name="withdrawal_state_known"),
            models.CheckConstraint(
                condition=Q(fee_deduct_type__in=["INTERNAL", "EXTERNAL"]), name="withdrawal_fee_deduct_type_known"
            ),
            # Past the preview, every figure of the quote is there and the recipient gets something.
            models.CheckConstraint(
                condition=Q(state__in=["draft", "cancelled"])
                | (Q(total_debit__isnull=False, amount_received__gt=0, service_fee__gte=0, chain_fee__gte=0)),
                name="withdrawal_quoted_past_draft",
            ),
            # Processing or completed means the exchange gave its id.
            models.CheckConstraint(
                condition=~Q(state__in=["processing", "succeeded"]) | ~Q(exchange_withdrawal_id=""),
                name="withdrawal_sent_has_exchange_id",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "last_polled_at"], name="withdrawal_open_for_polling"),
            # The changelist's order within a tenant.
            models.Index(fields=["tenant", "-created_at", "-id"], name="withdrawal_tenant_recent"),
        ]

    def __str__(self):
        return f"Withdrawal of {self.amount.normalize():f} {self.currency} ({self.get_state_display()})"

    @property
    def reference(self) -> str:
        """A short reference sent in the remark, so the exchange's history can be matched to this row."""
        return f"bp-{self.idempotency_key.hex[:16]}"


class FactorRequest(models.Model):
    """Each time the exchange was asked to start a 2FA withdrawal; its UID/MAIL/PHONE limits count these."""

    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("connectors.ExchangeConnection", on_delete=models.CASCADE, related_name="+")
    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.CASCADE, related_name="factor_requests")
    withdraw_type = models.CharField(max_length=8)
    requested_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return f"{self.withdraw_type} requested at {self.requested_at:%Y-%m-%d %H:%M:%S}"


class WithdrawalLimit(models.Model):
    """A broker admin's cap: per user (each user) or for the whole tenant, in USDT over a rolling window."""

    class Scope(models.TextChoices):
        PER_USER = "per_user", "Each user"
        TENANT = "tenant", "Whole tenant"

    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="withdrawal_limits")
    scope = models.CharField(max_length=16, choices=Scope.choices)
    window_hours = models.PositiveIntegerField(default=24)
    max_usdt = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        ordering = ["tenant_id", "scope"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "scope", "window_hours"], name="withdrawal_limit_one_per_window"),
            models.CheckConstraint(condition=Q(max_usdt__gte=0), name="withdrawal_limit_not_negative"),
            models.CheckConstraint(condition=Q(window_hours__gt=0), name="withdrawal_limit_window_positive"),
        ]

    def __str__(self):
        return f"{self.get_scope_display()}: {self.max_usdt} USDT per {self.window_hours} h"
