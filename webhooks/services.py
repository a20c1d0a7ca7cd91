"""Webhook writes: events into the outbox, endpoints and their secrets, replays. Delivery is in ``delivery``."""

import base64
import json
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from broker_portal.audit import record_audit_event
from broker_portal.enqueue import enqueue_each
from broker_portal.errors import PortalError
from broker_portal.models import Tenant
from broker_portal.public_addresses import resolves_to_public_addresses_only

from .events import CATALOGUE, TEST_EVENT, check_payload
from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookError(PortalError):
    """A request the portal refuses; the message is for the person who made it."""


# --- the outbox -----------------------------------------------------------------------------------------------


def event_record(*, tenant: Tenant | int, type: str, payload: dict) -> WebhookEvent | None:  # noqa: A002
    """Record an event for every enabled endpoint of the tenant that wants its type. Call it inside the
    transaction of the change it describes: the event and its deliveries commit (or roll back) with the change,
    and are handed to a worker only after the commit. Nothing is written where no endpoint listens."""
    check_payload(type, payload)
    tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(tenant_id=tenant_id, status=WebhookEndpoint.Status.ENABLED).only(
            "pk", "event_types"
        )
        if endpoint.wants(type)
    ]
    if not endpoints:
        return None
    return _event_write(tenant_id=tenant_id, type=type, payload=payload, endpoints=endpoints)


def _event_write(*, tenant_id: int, type: str, payload: dict, endpoints) -> WebhookEvent:  # noqa: A002
    # Dates and decimals as the strings JSON carries, once, so every attempt sends the same bytes.
    data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    now = timezone.now()
    with transaction.atomic():
        event = WebhookEvent.objects.create(tenant_id=tenant_id, type=type, payload=data)
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    tenant_id=tenant_id,
                    endpoint_id=endpoint.pk,
                    event=event,
                    webhook_id=new_webhook_id(),
                    next_attempt_at=now,
                    retry_from=now,
                )
                for endpoint in endpoints
            ]
        )
        endpoint_ids = [endpoint.pk for endpoint in endpoints]
        transaction.on_commit(lambda: enqueue_endpoints(endpoint_ids))
    return event


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def enqueue_endpoints(endpoint_ids) -> None:
    """Queue one task per endpoint that has none queued: a thousand events for one endpoint are one task in the
    queue, not a thousand ahead of everyone else's. A mark whose task was lost (a Redis restart) runs out after
    WEBHOOK_DRAIN_SECONDS plus a delivery's timeout, and the sweep queues the endpoint again."""
    from django.db.models import Q

    from .delivery import hold_seconds  # delivery signs with this module's secrets

    now = timezone.now()
    unmarked = Q(queued_until__isnull=True) | Q(queued_until__lt=now)
    # One read where a task is queued already (the usual case after the first event); two processes that both
    # find it unmarked queue two tasks, of which the second finds nothing to do.
    ids = list(WebhookEndpoint.objects.filter(unmarked, pk__in=list(endpoint_ids)).values_list("pk", flat=True))
    if not ids:
        return
    WebhookEndpoint.objects.filter(unmarked, pk__in=ids).update(queued_until=now + timedelta(seconds=hold_seconds()))
    enqueue_each("webhooks.tasks.deliver_endpoint", ([endpoint_id] for endpoint_id in ids))


# --- endpoints ------------------------------------------------------------------------------------------------


def new_secret() -> str:
    """``whsec_`` and 24 random bytes in base64: the Standard Webhooks secret format its libraries read."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def url_problem(url: str) -> str:
    """Why an endpoint may not have this URL, or "". With WEBHOOK_URLS_PUBLIC_ONLY (always in production) only
    https to a host whose every address is public: a broker admin cannot point the portal's workers at its own
    network, a cloud metadata address or loopback (SSRF). Delivery checks the address again as it connects."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter an http(s) address."
    if parts.username or parts.password:
        return "Put no user name or password in the address; the signature authenticates each delivery."
    if settings.WEBHOOK_URLS_PUBLIC_ONLY:
        if parts.scheme != "https":
            return "Webhook addresses must use https."
        if not resolves_to_public_addresses_only(parts.hostname):
            return f"{parts.hostname} is not a public address (private, loopback and link-local ones are refused)."
    return ""


def clean_event_types(event_types) -> list[str]:
    unknown = sorted(set(event_types) - set(CATALOGUE))
    if unknown:
        raise WebhookError(f"Unknown event types: {', '.join(unknown)}.")
    return sorted(set(event_types))


def _audit(endpoint: WebhookEndpoint, action: str, request=None, **details) -> None:
    record_audit_event(
        tenant=endpoint.tenant,
        action=f"webhook.{action}",
        target=endpoint,
        request=request,
        details={"url": endpoint.url, **details},
    )


@transaction.atomic
def endpoint_create(
    *, tenant: Tenant, url: str, event_types=(), description: str = "", request=None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which is shown this once (it is stored encrypted)."""
    problem = url_problem(url)
    if problem:
        raise WebhookError(problem)
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant, url=url, description=description, event_types=clean_event_types(event_types), secret=secret
    )
    _audit(endpoint, "endpoint_created", request, event_types=endpoint.event_types)
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    request=None,
    url: str | None = None,
    event_types=None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    changed: dict[str, object] = {}
    if url is not None and url != endpoint.url:
        problem = url_problem(url)
        if problem:
            raise WebhookError(problem)
        changed["url"] = endpoint.url = url
    if event_types is not None:
        changed["event_types"] = endpoint.event_types = clean_event_types(event_types)
    if description is not None:
        endpoint.description = description
    if enabled is not None and enabled != (endpoint.status == WebhookEndpoint.Status.ENABLED):
        endpoint.status = WebhookEndpoint.Status.ENABLED if enabled else WebhookEndpoint.Status.PAUSED
        endpoint.paused_reason = "" if enabled else "Paused by a broker admin."
        endpoint.failing_since = None
        changed["status"] = endpoint.status
    endpoint.save()
    _audit(endpoint, "endpoint_updated", request, changed=sorted(changed))
    if changed.get("status") == WebhookEndpoint.Status.ENABLED:
        # What waited while it was paused goes now.
        transaction.on_commit(lambda: enqueue_endpoints([endpoint.pk]))
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, request=None) -> tuple[WebhookEndpoint, str]:
    """A new secret, shown this once. The old one keeps signing beside it for WEBHOOK_SECRET_OVERLAP_HOURS, so
    the receiver can switch without a delivery it cannot verify."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    endpoint.secret = secret
    endpoint.save()
    _audit(endpoint, "secret_rotated", request, previous_valid_until=endpoint.previous_secret_expires_at.isoformat())
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, request=None) -> None:
    _audit(endpoint, "endpoint_deleted", request)
    endpoint.delete()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its overlap."""
    now = now or timezone.now()
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        found.append(endpoint.previous_secret)
    return found


@transaction.atomic
def endpoint_test_fire(*, endpoint: WebhookEndpoint, request=None) -> WebhookDelivery:
    """A ``webhook.test`` event to this endpoint alone, delivered like any other (and so in its log)."""
    event = _event_write(
        tenant_id=endpoint.tenant_id,
        type=TEST_EVENT.name,
        payload={"endpoint_id": endpoint.pk, "message": "A test delivery from the broker portal."},
        endpoints=[endpoint],
    )
    _audit(endpoint, "test_fired", request, event_id=event.pk)
    return event.deliveries.get()


# --- replays --------------------------------------------------------------------------------------------------


def _replay(queryset, now: datetime) -> int:
    # The same webhook-id: a receiver that already processed it can tell (Standard Webhooks, "Idempotency").
    return queryset.update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now, retry_from=now, last_error="")


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery, request=None) -> WebhookDelivery:
    now = timezone.now()
    _replay(WebhookDelivery.objects.filter(pk=delivery.pk), now)
    _audit(delivery.endpoint, "delivery_replayed", request, webhook_id=delivery.webhook_id)
    endpoint_id = delivery.endpoint_id
    transaction.on_commit(lambda: enqueue_endpoints([endpoint_id]))
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def deliveries_replay_failed(*, endpoint: WebhookEndpoint, since: datetime, until: datetime, request=None) -> int:
    """Every failed delivery of the endpoint whose event happened in [since, until)."""
    if until <= since:
        raise WebhookError("The range must end after it starts.")
    count = _replay(
        WebhookDelivery.objects.filter(
            endpoint=endpoint,
            status=WebhookDelivery.Status.FAILED,
            event__created_at__gte=since,
            event__created_at__lt=until,
        ),
        timezone.now(),
    )
    _audit(endpoint, "deliveries_replayed", request, since=since.isoformat(), until=until.isoformat(), count=count)
    if count:
        transaction.on_commit(lambda: enqueue_endpoints([endpoint.pk]))
    return count
