"""Webhook workers: tasks take ids, load, and call ``delivery``; the outbox rows are the truth, not the queue."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from broker_portal.selectors import broker_admin_emails

from . import delivery
from .models import WebhookEndpoint


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def deliver_endpoint(endpoint_id: int) -> int:
    return delivery.endpoint_deliver_due(endpoint_id=endpoint_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30, time_limit=45)
def sweep_deliveries() -> int:
    """Beat runs this every WEBHOOK_SWEEP_SECONDS."""
    return delivery.endpoints_sweep()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def delete_old_events() -> int:
    """Beat runs this every hour."""
    return delivery.events_delete_old()


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=45,
    max_retries=5,
    default_retry_delay=60,
)
def notify_broker_admins_of_paused_endpoint(self, endpoint_id: int) -> None:
    """E-mail the tenant's broker admins that an endpoint was paused for failing (its address, never its secret)."""
    endpoint = WebhookEndpoint.objects.select_related("tenant").filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    admins = broker_admin_emails(tenant_id=endpoint.tenant_id)
    if not admins:
        return
    context = {"endpoint": endpoint, "tenant": endpoint.tenant}
    subject = render_to_string("webhooks/email/endpoint_paused_subject.txt", context).strip()
    body = render_to_string("webhooks/email/endpoint_paused_message.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, admins)
    except OSError as error:
        raise self.retry(exc=error)
