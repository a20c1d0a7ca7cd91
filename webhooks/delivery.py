"""Delivering the outbox: one worker at a time per endpoint, each attempt signed the Standard Webhooks way.

The rows are the truth. A worker takes an endpoint for a while (``delivering_until``), sends what is due to it
oldest first, records each answer, and lets go; the beat sweep hands any endpoint with due deliveries and no
live holder to a worker again. So a worker killed mid-delivery (or a Redis that lost its queue) loses nothing:
the delivery is still pending, and once the dead worker's hold runs out it is sent again, with the same
``webhook-id``. One endpoint never has more than one worker: a slow one holds up its own deliveries only, and
each worker lets go after WEBHOOK_DRAIN_SECONDS, queueing behind everyone else's work.

Format: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md (headers
``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; ``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body``; several signatures separated by spaces during a rotation), signed by the
``standardwebhooks`` library.
"""

import json
import logging
import random
import threading
import time
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks import Webhook

from broker_portal.audit import record_audit_event
from broker_portal.enqueue import enqueue_on_commit
from broker_portal.public_addresses import HostNotAllowed, PublicAddressAdapter

from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from .services import enqueue_endpoints, signing_secrets

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status
USER_AGENT = "BrokerPortal-Webhooks/1.0"
BATCH = 20  # due deliveries read at once in a turn


def timeout_seconds() -> float:
    return float(settings.WEBHOOK_TIMEOUT_SECONDS)


def hold_seconds() -> float:
    """How long a worker holds an endpoint: its turn, one more attempt's timeout, and a margin."""
    return float(settings.WEBHOOK_DRAIN_SECONDS) + timeout_seconds() + 5


# --- the request ----------------------------------------------------------------------------------------------


def body_of(delivery: WebhookDelivery) -> str:
    event = delivery.event
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat().replace("+00:00", "Z"), "data": event.payload},
        separators=(",", ":"),
        sort_keys=True,
    )


def signed_headers(*, endpoint: WebhookEndpoint, webhook_id: str, body: str, now: datetime) -> dict:
    # The timestamp is the attempt's, so a receiver's five-minute tolerance holds for a retry a day later.
    signatures = [Webhook(secret).sign(webhook_id, now, body) for secret in signing_secrets(endpoint, now)]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


_sessions = threading.local()


def http_session() -> requests.Session:
    """One per thread and policy: no redirects followed, nothing from the environment (proxies, .netrc), and
    with WEBHOOK_URLS_PUBLIC_ONLY each connection made only to an address checked public as it connects."""
    public_only = bool(settings.WEBHOOK_URLS_PUBLIC_ONLY)
    session = getattr(_sessions, "session", None)
    if session is None or session.public_only != public_only:
        session = requests.Session()
        session.trust_env = False
        session.max_redirects = 0
        session.public_only = public_only
        if public_only:
            session.mount("https://", PublicAddressAdapter())
        _sessions.session = session
    return session


class Answer:
    def __init__(self, *, code: int | None, ms: int, error: str = ""):
        self.code, self.ms, self.error = code, ms, error

    @property
    def ok(self) -> bool:
        return not self.error and self.code is not None and 200 <= self.code < 300


def send(*, endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime) -> Answer:
    """One POST. Done means a 2xx within WEBHOOK_TIMEOUT_SECONDS; the body of the answer is never read."""
    if settings.WEBHOOK_URLS_PUBLIC_ONLY and not endpoint.url.startswith("https://"):
        return Answer(code=None, ms=0, error="The endpoint's address is not https.")
    body = body_of(delivery)
    headers = signed_headers(endpoint=endpoint, webhook_id=delivery.webhook_id, body=body, now=now)
    limit = timeout_seconds()
    started = time.monotonic()
    try:
        response = http_session().post(
            endpoint.url,
            data=body.encode(),
            headers=headers,
            allow_redirects=False,
            timeout=(min(5.0, limit), limit),
            stream=True,
        )
        response.close()
    except requests.Timeout:
        return Answer(code=None, ms=elapsed_ms(started), error=f"No answer within {limit:g} s.")
    except requests.ConnectionError:
        return Answer(code=None, ms=elapsed_ms(started), error="The endpoint could not be reached.")
    except HostNotAllowed as error:  # the address policy, as the connection was made
        return Answer(code=None, ms=elapsed_ms(started), error=f"Not delivered: {str(error)[:200]}")
    except Exception as error:  # a malformed answer, anything: its name only (a message may quote the URL)
        return Answer(code=None, ms=elapsed_ms(started), error=f"Not delivered ({type(error).__name__}).")
    ms = elapsed_ms(started)
    if ms > limit * 1000:
        return Answer(code=response.status_code, ms=ms, error=f"Answered after more than {limit:g} s.")
    if not 200 <= response.status_code < 300:
        return Answer(code=response.status_code, ms=ms, error=f"Answered {response.status_code}.")
    return Answer(code=response.status_code, ms=ms)


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


# --- retries --------------------------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """Exponential from WEBHOOK_RETRY_BASE_SECONDS, doubling per attempt up to WEBHOOK_RETRY_MAX_SECONDS, each
    between 75 % and 125 % of that, so endpoints that failed together are not all retried together."""
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    delay = min(float(settings.WEBHOOK_RETRY_MAX_SECONDS), base * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=delay * random.uniform(0.75, 1.25))


def gives_up(delivery: WebhookDelivery, now: datetime) -> bool:
    """Retries go on for at least WEBHOOK_RETRY_HOURS from the run's start; the first failure after that ends it."""
    return now >= delivery.retry_from + timedelta(hours=float(settings.WEBHOOK_RETRY_HOURS))


# --- one endpoint's turn --------------------------------------------------------------------------------------


def endpoint_take(endpoint_id: int, now: datetime) -> datetime | None:
    """Hold the endpoint for one worker; the time held until, or None where another live worker holds it."""
    until = now + timedelta(seconds=hold_seconds())
    taken = WebhookEndpoint.objects.filter(
        Q(delivering_until__isnull=True) | Q(delivering_until__lt=now),
        pk=endpoint_id,
        status=WebhookEndpoint.Status.ENABLED,
    ).update(delivering_until=until)
    return until if taken else None


def endpoint_let_go(endpoint_id: int, until: datetime) -> None:
    # Only our own hold: one that ran out and was taken by another worker stays theirs.
    WebhookEndpoint.objects.filter(pk=endpoint_id, delivering_until=until).update(delivering_until=None)


def due_deliveries(endpoint_id: int, now: datetime):
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=Status.PENDING, next_attempt_at__lte=now)


def endpoint_deliver_due(*, endpoint_id: int) -> int:
    """Send what is due to one endpoint, oldest first, for up to WEBHOOK_DRAIN_SECONDS. Returns the attempts
    made; queues the endpoint again (behind other work) if something is still due."""
    # Off the queue: an event from now on queues the endpoint again, behind whatever else is waiting.
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(queued_until=None)
    until = endpoint_take(endpoint_id, timezone.now())
    if until is None:
        return 0
    attempts = 0
    deadline = time.monotonic() + float(settings.WEBHOOK_DRAIN_SECONDS)
    try:
        while time.monotonic() < deadline:
            # Read again per batch: a broker admin may have paused it, or rotated its secret, meanwhile.
            endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, status=WebhookEndpoint.Status.ENABLED).first()
            batch = (
                list(
                    due_deliveries(endpoint_id, timezone.now())
                    .select_related("event")
                    .order_by("next_attempt_at", "pk")[:BATCH]
                )
                if endpoint
                else []
            )
            if not batch:
                break
            for delivery in batch:
                if time.monotonic() >= deadline or endpoint.status != WebhookEndpoint.Status.ENABLED:
                    break
                delivery_attempt(endpoint=endpoint, delivery=delivery)
                attempts += 1
            if endpoint.status != WebhookEndpoint.Status.ENABLED:
                break
    finally:
        endpoint_let_go(endpoint_id, until)
    if due_deliveries(endpoint_id, timezone.now()).filter(endpoint__status=WebhookEndpoint.Status.ENABLED).exists():
        enqueue_endpoints([endpoint_id])
    return attempts


def delivery_attempt(*, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> Answer:
    """One attempt, three queries where it succeeds. ``endpoint`` is kept up to date with what the attempt
    learnt (failing since when, paused)."""
    now = timezone.now()
    # Counted before it is sent: an attempt whose worker died shows in the log too.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1, last_attempt_at=now)
    answer = send(endpoint=endpoint, delivery=delivery, now=now)
    if not answer.ok:
        endpoint.status, endpoint.failing_since = delivery_record_answer(delivery_id=delivery.pk, answer=answer)
        return answer
    # A success needs no lock: whatever happened to the row meanwhile (a replay), this event was delivered.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.SUCCEEDED,
        succeeded_at=timezone.now(),
        next_attempt_at=None,
        response_code=answer.code,
        response_ms=answer.ms,
        last_error="",
    )
    if endpoint.failing_since is not None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        endpoint.failing_since = None
    return answer


@transaction.atomic
def delivery_record_answer(*, delivery_id: int, answer: Answer, now: datetime | None = None) -> tuple[str, datetime]:
    """Record an attempt's answer under the rows' locks; the endpoint's status and failing-since afterwards."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    now = now or timezone.now()
    delivery.response_code, delivery.response_ms, delivery.last_error = answer.code, answer.ms, answer.error[:300]
    if answer.ok:
        delivery.status, delivery.succeeded_at, delivery.next_attempt_at = Status.SUCCEEDED, now, None
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            endpoint.failing_since = None
    else:
        if gives_up(delivery, now):
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        endpoint_note_failure(endpoint=endpoint, now=now)
    delivery.save(
        update_fields=["status", "succeeded_at", "next_attempt_at", "response_code", "response_ms", "last_error"]
    )
    return endpoint.status, endpoint.failing_since or now


def endpoint_note_failure(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    """An endpoint failing, with no success in between, for WEBHOOK_PAUSE_AFTER_DAYS is paused and the tenant's
    broker admins are told; what is pending waits for it to be enabled again."""
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
        return
    if endpoint.failing_since > now - timedelta(days=float(settings.WEBHOOK_PAUSE_AFTER_DAYS)):
        return
    days = (now - endpoint.failing_since).days
    endpoint.status = WebhookEndpoint.Status.PAUSED
    endpoint.paused_reason = f"Paused automatically: every delivery failed for {days} days."
    endpoint.save(update_fields=["status", "paused_reason", "updated_at"])
    record_audit_event(
        tenant=endpoint.tenant,
        action="webhook.endpoint_paused",
        target=endpoint,
        details={"url": endpoint.url, "failing_since": endpoint.failing_since.isoformat()},
    )
    logger.warning("webhook endpoint %s paused after failing since %s", endpoint.pk, endpoint.failing_since)
    enqueue_on_commit("webhooks.tasks.notify_broker_admins_of_paused_endpoint", endpoint.pk)


# --- the sweep and housekeeping -------------------------------------------------------------------------------


def events_delete_old(*, now: datetime | None = None) -> int:
    """Delete events older than WEBHOOK_KEEP_DAYS whose every delivery is settled; one still pending (a paused
    endpoint's) is kept, however old. Returns the events deleted."""
    now = now or timezone.now()
    old = WebhookEvent.objects.filter(created_at__lt=now - timedelta(days=float(settings.WEBHOOK_KEEP_DAYS)))
    _, per_model = old.exclude(deliveries__status=Status.PENDING).delete()
    return per_model.get(WebhookEvent._meta.label, 0)


def endpoints_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Beat: every enabled endpoint with something due and no live worker holding it goes to a worker. What the
    queue lost (a Redis restart, a killed worker, a retry coming due) is so picked up within a sweep."""
    now = now or timezone.now()
    endpoint_ids = list(
        WebhookEndpoint.objects.filter(
            Q(delivering_until__isnull=True) | Q(delivering_until__lt=now),
            Q(queued_until__isnull=True) | Q(queued_until__lt=now),
            status=WebhookEndpoint.Status.ENABLED,
            deliveries__status=Status.PENDING,
            deliveries__next_attempt_at__lte=now,
        )
        .values_list("pk", flat=True)
        .distinct()[:limit]
    )
    enqueue_endpoints(endpoint_ids)
    return len(endpoint_ids)
