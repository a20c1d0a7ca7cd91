"""Payouts by the broker: a batch of amounts to users' exchange accounts, each sent from the broker's own wallet
outside the portal and confirmed from the user's deposit history at the exchange."""

from django.conf import settings
from django.db import models
from django.db.models import Q

AMOUNT = {"max_digits": 38, "decimal_places": 18}


class PayoutBatch(models.Model):
    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120, help_text="What the batch pays, e.g. “March airdrop”.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "payout batches"

    def __str__(self):
        return self.name


class Payout(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Address not resolved yet"
        REFUSED = "refused", "Address refused"
        RESOLVED = "resolved", "Address resolved"
        SENT = "sent", "Sent"
        RECEIVED = "received", "Received"
        LATE = "late", "Late"
        MISSING = "missing", "Missing"

    # Statuses the confirmation task still looks for in the deposit history.
    OPEN = (Status.RESOLVED, Status.SENT, Status.LATE, Status.MISSING)

    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(PayoutBatch, on_delete=models.CASCADE, related_name="payouts")
    connection = models.ForeignKey("connectors.ExchangeConnection", on_delete=models.PROTECT, related_name="payouts")
    # Copied from the connection: the user is who is paid, whatever becomes of the connection.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    asset = models.CharField(max_length=16)
    network = models.CharField(
        max_length=100, help_text="The exchange's id of the network (as the API's deposit-networks lists it)."
    )
    amount = models.DecimalField(**AMOUNT)
    # The broker's own id of this payout: the same reference twice is the same payout (idempotency).
    reference = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True, default="")

    network_name = models.CharField(max_length=100, blank=True, default="")
    address = models.CharField(max_length=255, blank=True, default="")
    memo = models.CharField(max_length=100, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    txid = models.CharField(max_length=255, blank=True, default="", verbose_name="transaction id")
    sent_at = models.DateTimeField(null=True, blank=True)
    # The deposit it was matched to; one deposit confirms one payout only.
    deposit = models.OneToOneField(
        "exports.HistoryEntry", on_delete=models.SET_NULL, null=True, blank=True, related_name="payout"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], name="payout_reference_once_per_tenant"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                name="payout_resolved_has_address", condition=Q(status__in=["pending", "refused"]) | ~Q(address="")
            ),
        ]
        indexes = [models.Index(fields=["status", "connection"], name="payout_open_by_connection")]

    def __str__(self):
        return f"{self.reference}: {self.amount.normalize():f} {self.asset}"
