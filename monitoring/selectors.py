"""Reads behind /metrics: one aggregate query per table, whatever the number of rows, and the broker's queues."""

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.fields.json import KT

from broker_portal.celery import app
from broker_portal.models import AuditEvent
from connectors.models import ExchangeConnection
from exports.models import ExportJob, SyncState
from withdrawals.models import Withdrawal

from .readiness import broker_connection

logger = logging.getLogger(__name__)

# The action connectors.token_refresh records once per connection when its refresh token is about to lapse.
LAPSE_WARNING_ACTION = "connection.refresh_lapsing"
# Upper bounds in seconds of the export duration histogram; an export may run up to the task's 3 h limit.
EXPORT_DURATION_BUCKETS = (1, 5, 30, 60, 300, 900, 1800, 3600, 10800)


def connection_counts() -> list[Mapping[str, Any]]:
    """Connections by exchange and status, with how many of them their user was warned about (a refresh token about
    to lapse, not renewed since)."""
    # order_by(): the model's ordering would join the GROUP BY.
    return list(
        ExchangeConnection.objects.order_by()
        .values("exchange", "status")
        .annotate(connections=Count("id"), lapse_warned=Count("id", filter=Q(refresh_lapse_warned_at__isnull=False)))
    )


def lapse_warning_counts() -> list[Mapping[str, Any]]:
    """Token-lapse warnings ever given, by exchange (audit rows stay, so the count only grows)."""
    return list(
        AuditEvent.objects.filter(action=LAPSE_WARNING_ACTION)
        .order_by()
        .values(exchange=KT("details__exchange"))
        .annotate(warnings=Count("id"))
    )


def withdrawal_counts() -> list[Mapping[str, Any]]:
    return list(Withdrawal.objects.order_by().values("exchange", "state").annotate(withdrawals=Count("id")))


def export_job_counts() -> list[Mapping[str, Any]]:
    """Export jobs by format and status, with the durations (started to finished) of the finished ones: their
    number at or below each of EXPORT_DURATION_BUCKETS (``le_<bound>``), in all (``timed``) and summed."""
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets = {
        f"le_{bound}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
        for bound in EXPORT_DURATION_BUCKETS
    }
    return list(
        ExportJob.objects.order_by()
        .alias(duration=duration)
        .values("format", "status")
        .annotate(
            jobs=Count("id"),
            timed=Count("id", filter=Q(duration__isnull=False)),
            duration_sum=Sum("duration"),
            **buckets,
        )
    )


def sync_state_counts() -> list[Mapping[str, Any]]:
    """History sync states by exchange and kind, and how many of them the last pass left failed."""
    return list(
        SyncState.objects.order_by()
        .values("kind", exchange=F("connection__exchange"))
        .annotate(states=Count("id"), failing=Count("id", filter=~Q(last_error="")))
    )


def queue_depths() -> dict[str, int] | None:
    """Messages waiting in each of Celery's queues, as the broker counts them (Redis: the list's length; the
    filesystem broker: its message files); None when the broker does not answer."""
    names = [queue.name for queue in app.conf.task_queues or ()] or [app.conf.task_default_queue]
    try:
        with broker_connection() as broker, broker.channel() as channel:
            # A declare, not a passive one: Redis drops an empty queue's list, and a passive declare of it fails.
            return {name: channel.queue_declare(name).message_count for name in names}
    except Exception as error:
        logger.warning("Queue depth not read: %s", error.__class__.__name__)
        return None
