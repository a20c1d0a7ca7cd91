"""Deliveries as a receiver sees them: Standard Webhooks headers its own library verifies, retries that keep the
webhook-id, at least 24 hours of backoff, pausing, and the outbox written with the change or not at all."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from broker_portal.models import AuditEvent
from webhooks import delivery, services
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

from .helpers import CONNECTED, make_endpoint

pytestmark = pytest.mark.django_db


def record(tenant, type="connection.connected", payload=None):
    with transaction.atomic():
        return services.event_record(tenant=tenant, type=type, payload=payload or CONNECTED)


def test_the_receiver_verifies_the_delivery_with_the_standardwebhooks_library(tenant, receiver, fast_retries):
    inbox = receiver()
    endpoint, secret = make_endpoint(tenant, inbox.url)
    record(tenant)
    assert delivery.endpoint_deliver_due(endpoint_id=endpoint.pk) == 1

    [request] = inbox.received
    payload = Webhook(secret).verify(request["body"], request["headers"])
    assert payload["type"] == "connection.connected" and payload["data"] == CONNECTED
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert request["headers"]["webhook-signature"].startswith("v1,")
    # Another secret (another endpoint's, or a guess) does not verify it; nor does a changed body.
    with pytest.raises(WebhookVerificationError):
        Webhook(services.new_secret()).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request["body"].replace(b"kucoin", b"okx"), request["headers"])
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.response_code) == ("succeeded", 1, 200)
    assert row.webhook_id == request["headers"]["webhook-id"] and row.response_ms is not None


def test_five_failures_then_success_is_one_successful_delivery_with_the_same_webhook_id(tenant, receiver, fast_retries):
    inbox = receiver()
    inbox.answers = [500, 502, 503, 429, 404]
    endpoint, secret = make_endpoint(tenant, inbox.url)
    record(tenant)
    delivery.endpoint_deliver_due(endpoint_id=endpoint.pk)

    assert [request["status"] for request in inbox.received] == [500, 502, 503, 429, 404, 200]
    assert len({request["headers"]["webhook-id"] for request in inbox.received}) == 1
    for request in inbox.received:
        Webhook(secret).verify(request["body"], request["headers"])
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.response_code, row.last_error) == ("succeeded", 6, 200, "")
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 1
    # Nothing more is due: another turn sends nothing.
    assert delivery.endpoint_deliver_due(endpoint_id=endpoint.pk) == 0
    assert len(inbox.received) == 6


def test_retries_back_off_exponentially_with_jitter_for_at_least_24_hours(tenant, receiver, settings):
    inbox = receiver()
    inbox.answers = [500] * 100
    endpoint, _ = make_endpoint(tenant, inbox.url)
    record(tenant)
    row = WebhookDelivery.objects.get()
    delays = [delivery.retry_delay(attempt).total_seconds() for attempt in range(1, 12)]
    assert 22 <= delays[0] <= 38 and 45 <= delays[1] <= 75 and 90 <= delays[2] <= 150
    assert all(delay <= 7200 * 1.25 for delay in delays)
    assert len({round(delivery.retry_delay(3).total_seconds(), 3) for _ in range(10)}) > 1  # jitter

    # Attempt after attempt, each when due: the last one fails only once 24 hours have gone by.
    now = row.retry_from
    while row.status == "pending":
        assert now - row.retry_from < timedelta(hours=27)
        answer = delivery.Answer(code=500, ms=3, error="Answered 500.")
        WebhookDelivery.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
        delivery.delivery_record_answer(delivery_id=row.pk, answer=answer, now=now)
        row.refresh_from_db()
        if row.next_attempt_at:
            assert row.next_attempt_at > now
            now = row.next_attempt_at
    assert row.status == "failed" and now - row.retry_from >= timedelta(hours=24)
    assert 15 <= row.attempts <= 30


def test_an_endpoint_failing_for_days_is_paused_its_admins_told_and_nothing_is_lost(
    tenant, broker_admin, receiver, fast_retries, django_capture_on_commit_callbacks
):
    from webhooks.tasks import notify_broker_admins_of_paused_endpoint

    inbox = receiver()
    inbox.answers = [503] * 10
    endpoint, _ = make_endpoint(tenant, inbox.url)
    record(tenant)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=2))
    row = WebhookDelivery.objects.get()
    answer = delivery.Answer(code=503, ms=5, error="Answered 503.")
    delivery.delivery_record_answer(delivery_id=row.pk, answer=answer)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).status == "enabled"  # two days: not yet
    record(tenant)  # another event, still waiting for its first attempt when the endpoint is paused

    with django_capture_on_commit_callbacks() as callbacks:
        delivery.delivery_record_answer(
            delivery_id=row.pk, answer=answer, now=timezone.now() + timedelta(days=1, minutes=1)
        )
    endpoint.refresh_from_db()
    assert endpoint.status == "paused" and "3 days" in endpoint.paused_reason
    assert AuditEvent.objects.filter(action="webhook.endpoint_paused", target_id=str(endpoint.pk)).exists()
    assert len(callbacks) == 1
    notify_broker_admins_of_paused_endpoint(endpoint.pk)
    [message] = mail.outbox
    assert message.to == [broker_admin.email] and endpoint.url in message.body
    assert endpoint.secret not in message.body

    # Paused: new events skip it and nothing is sent; what was pending waits for it to be enabled again, and
    # what had given up (a day of retries) is replayed.
    record(tenant)
    assert WebhookDelivery.objects.count() == 2  # none for the event after the pause
    waiting = WebhookDelivery.objects.get(status="pending")
    assert WebhookDelivery.objects.get(pk=row.pk).status == "failed"
    assert delivery.endpoint_deliver_due(endpoint_id=endpoint.pk) == 0
    assert delivery.endpoints_sweep() == 0
    inbox.answers = []
    services.endpoint_update(endpoint=endpoint, enabled=True)
    services.delivery_replay(delivery=WebhookDelivery.objects.get(pk=row.pk))
    delivery.endpoint_deliver_due(endpoint_id=endpoint.pk)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert {request["headers"]["webhook-id"] for request in inbox.received[-2:]} == {row.webhook_id, waiting.webhook_id}
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_slow_answer_or_a_redirect_is_not_a_delivery(tenant, receiver, fast_retries, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    inbox = receiver()
    inbox.delay_seconds = 1.5
    endpoint, _ = make_endpoint(tenant, inbox.url)
    record(tenant)
    row = WebhookDelivery.objects.get()
    delivery.delivery_attempt(endpoint=endpoint, delivery=row)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code) == ("pending", 1, None)
    assert "No answer within" in row.last_error and row.next_attempt_at is not None

    inbox.delay_seconds = 0
    inbox.answers = [302]
    row.refresh_from_db()
    delivery.delivery_attempt(endpoint=endpoint, delivery=row)
    row.refresh_from_db()
    assert (row.status, row.response_code, row.last_error) == ("pending", 302, "Answered 302.")
    assert len(inbox.received) == 2


def test_settings_that_break_the_delivery_promise_are_reported_at_start(settings):
    from django.core import checks

    settings.WEBHOOK_RETRY_HOURS = 6
    settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_SECONDS = 600, 60
    ids = {message.id for message in checks.run_checks(include_deployment_checks=True)}
    assert {"webhooks.W001", "webhooks.E001"} <= ids
    settings.WEBHOOK_RETRY_HOURS, settings.WEBHOOK_RETRY_BASE_SECONDS = 24, 30
    settings.WEBHOOK_RETRY_MAX_SECONDS = 7200
    assert not {
        message.id
        for message in checks.run_checks(include_deployment_checks=True)
        if message.id.startswith("webhooks.")
    }


def test_old_settled_events_are_deleted_but_not_one_still_pending(tenant, settings):
    settings.WEBHOOK_KEEP_DAYS = 30
    endpoint, _ = make_endpoint(tenant, "http://127.0.0.1:9/hooks")
    for _ in range(3):
        record(tenant)
    settled, pending, recent = WebhookEvent.objects.order_by("pk")
    WebhookDelivery.objects.filter(event__in=[settled, recent]).update(status="succeeded")
    WebhookEvent.objects.filter(pk__in=[settled.pk, pending.pk]).update(created_at=timezone.now() - timedelta(days=31))
    assert delivery.events_delete_old() == 1
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert WebhookDelivery.objects.count() == 2
