"""Webhook endpoints of a tenant, the events recorded for them (the outbox) and each delivery of one to one."""

from django.db import models
from fernet_fields import EncryptedTextField

from broker_portal.models import Tenant


class WebhookEndpoint(models.Model):
    """Where a tenant's back end receives events; signed with its secret (and, during a rotation's overlap, with
    the previous one too)."""

    class Status(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        PAUSED = "paused", "Paused"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    # Event types (webhooks.events.CATALOGUE); empty means every type.
    event_types = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED)
    paused_reason = models.CharField(max_length=200, blank=True, default="")
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The first failure since the last success; an endpoint failing for WEBHOOK_PAUSE_AFTER_DAYS is paused.
    failing_since = models.DateTimeField(null=True, blank=True)
    # One worker at a time delivers to an endpoint (webhooks.delivery): who holds it holds it until then.
    delivering_until = models.DateTimeField(null=True, blank=True)
    # A task for it is in the queue (until then, at the latest): one queued at a time, however many events.
    queued_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(models.Model):
    """One event, written in the transaction of the change it describes: the outbox."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.type} #{self.pk}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: its ``webhook-id`` stays the same over every attempt and every replay."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # not tried yet, or retrying (attempts > 0)
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # retries given up, or the endpoint paused: replay sends it again

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    succeeded_at = models.DateTimeField(null=True, blank=True)
    # Retries go on until this long after the first attempt of a run (the event's creation, or a replay).
    retry_from = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["endpoint", "status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_sweep"),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return self.webhook_id
