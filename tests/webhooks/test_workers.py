"""Real Celery workers on the real Redis: a worker killed mid-delivery loses nothing, a queue that lost its
messages loses nothing, and a thousand events to one slow endpoint hold up no other tenant's deliveries."""

import os
import signal
import time

import pytest
import redis
from django.db import transaction
from standardwebhooks import Webhook

from tests.helpers import wait_until
from webhooks import delivery, services
from webhooks.models import WebhookDelivery

from .helpers import CONNECTED, make_endpoint

pytestmark = pytest.mark.django_db(transaction=True)

DRAIN_SECONDS = 2
TIMEOUT_SECONDS = 6


@pytest.fixture
def worker_settings(settings, monkeypatch):
    """The same short turns and timeouts for this process and the workers it starts (they read the environment)."""
    for name, value in (
        ("WEBHOOK_DRAIN_SECONDS", DRAIN_SECONDS),
        ("WEBHOOK_TIMEOUT_SECONDS", TIMEOUT_SECONDS),
        ("WEBHOOK_RETRY_BASE_SECONDS", 0),
        ("WEBHOOK_RETRY_MAX_SECONDS", 0),
    ):
        monkeypatch.setenv(name, str(value))
        setattr(settings, name, value)
    monkeypatch.setenv("WEBHOOK_URLS_PUBLIC_ONLY", "false")


def record(tenant, count=1):
    with transaction.atomic():
        for _ in range(count):
            services.event_record(tenant=tenant, type="connection.connected", payload=CONNECTED)


def sweep_until(condition, seconds):
    return wait_until(lambda: delivery.endpoints_sweep() is not None and condition(), seconds)


def test_a_worker_killed_mid_delivery_loses_nothing(tenant, receiver, workers, worker_settings):
    inbox = receiver()
    inbox.delay_seconds = 3  # the first request is in flight at the receiver when the worker dies
    endpoint, secret = make_endpoint(tenant, inbox.url)
    first = workers("first")
    record(tenant)  # committed: the task is queued after the commit
    assert wait_until(lambda: len(inbox.received) == 1, 60) is not None, "the worker never delivered"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    inbox.delay_seconds = 0
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)  # counted, never answered

    workers("second")
    # Once the dead worker's hold on the endpoint runs out, the sweep (beat's, here called every second) hands it
    # to the live worker, which sends the same delivery again.
    took = sweep_until(lambda: WebhookDelivery.objects.get().status == "succeeded", 60)
    assert took is not None, "the delivery whose worker died was never sent again"
    assert took <= delivery.hold_seconds() + 15
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code) == ("succeeded", 2, 200)
    assert [request["headers"]["webhook-id"] for request in inbox.received] == [row.webhook_id] * 2
    for request in inbox.received:
        Webhook(secret).verify(request["body"], request["headers"])


def test_deliveries_the_queue_lost_are_sent_after_the_sweep(tenant, receiver, workers, worker_settings, settings):
    inbox = receiver()
    endpoint, _ = make_endpoint(tenant, inbox.url)
    record(tenant, 3)
    # Redis restarted without its data: the queued task is gone, the rows are not.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("celery")
    workers("only")
    assert sweep_until(lambda: WebhookDelivery.objects.filter(status="succeeded").count() == 3, 60) is not None
    assert len({request["headers"]["webhook-id"] for request in inbox.received}) == 3


def test_a_thousand_events_to_a_slow_endpoint_never_block_another_tenants_deliveries(
    tenant, other_tenant, receiver, workers, worker_settings
):
    slow, fast = receiver(), receiver()
    slow.delay_seconds = 0.25
    slow_endpoint, _ = make_endpoint(tenant, slow.url)
    fast_endpoint, _ = make_endpoint(other_tenant, fast.url)
    workers("one")  # one worker, one task at a time: the harshest case
    record(tenant, 1000)
    assert wait_until(lambda: len(slow.received) >= 1, 60) is not None

    latencies = []
    for _ in range(3):
        started = time.monotonic()
        record(other_tenant)
        delivered = wait_until(lambda: len(fast.received) == len(latencies) + 1, 60)
        assert delivered is not None, "the other tenant's event waited behind the slow endpoint's backlog"
        latencies.append(time.monotonic() - started)
    # Each waited at most for the slow endpoint's current turn (and one request of it), never for its backlog.
    assert max(latencies) < DRAIN_SECONDS + TIMEOUT_SECONDS + 3, latencies
    assert WebhookDelivery.objects.filter(endpoint=slow_endpoint, status="pending").count() > 900
    assert WebhookDelivery.objects.filter(endpoint=fast_endpoint, status="succeeded").count() == 3
