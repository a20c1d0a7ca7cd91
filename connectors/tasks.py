"""The token lifecycle workers. Tasks take ids (never objects or secrets), load, and call a service;
they are idempotent (the service re-checks under the row lock), acknowledged late, time-limited, JSON."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from .balances import connection_balances_fill, connections_balances_warm
from .key_health import connection_check_api_key, connections_check_api_keys
from .models import ExchangeConnection
from .token_refresh import Outcome, connection_refresh, connections_sweep, publish_refreshes_each

logger = logging.getLogger(__name__)

# Past this the sweep (which honours next_refresh_attempt_at) takes over from the task's own retries.
MAX_TASK_RETRIES = 12

NOTICES = {"needs_reauthorization", "refresh_lapsing"}


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def sweep_token_refresh() -> dict:
    """Beat runs this every minute: enqueue one refresh per due connection, flag lapsing ones."""
    return connections_sweep()


@shared_task(
    bind=True, acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90, max_retries=MAX_TASK_RETRIES
)
def refresh_connection(self, connection_id: int, force: bool = False) -> str:
    # A worker never waits for a sibling's lock: the sibling is doing this very work.
    result = connection_refresh(connection_id=connection_id, force=force, wait=False)
    if result.outcome == Outcome.RETRY and self.request.retries < self.max_retries:
        countdown = max((result.retry_at - timezone.now()).total_seconds(), 0)
        raise self.retry(countdown=countdown)
    return result.outcome


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def publish_refreshes(connection_ids: list[int], force: bool = False) -> int:
    """One message per connection of a batch the sweep claimed (connectors.token_refresh.enqueue_refreshes). A worker
    killed on it leaves the batch's claims to run out (the sweep's claim and its grace), well within the window."""
    publish_refreshes_each(connection_ids, force=force)
    return len(connection_ids)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def sweep_api_key_health() -> int:
    """Beat runs this every hour: one spread-out key check per connection whose credential is its API key."""
    return connections_check_api_keys()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30, time_limit=45)
def check_api_key(connection_id: int) -> str:
    return connection_check_api_key(connection_id=connection_id)


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=45,
    max_retries=5,
    default_retry_delay=60,
)
def send_connection_notice(self, connection_id: int, notice: str) -> None:
    """E-mail the connection's user that it needs reconnecting, or soon will."""
    if notice not in NOTICES:
        return
    connection = ExchangeConnection.objects.select_related("user", "tenant").filter(pk=connection_id).first()
    if connection is None or not connection.user.email:
        return
    context = {
        "connection": connection,
        "exchange": connection.get_exchange_display(),
        "tenant": connection.tenant,
        "user": connection.user,
    }
    subject = render_to_string(f"connectors/email/{notice}_subject.txt", context).strip()
    body = render_to_string(f"connectors/email/{notice}_message.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [connection.user.email])
    except OSError as error:
        raise self.retry(exc=error)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=45, time_limit=60)
def fill_connection_balances(connection_id: int) -> None:
    """Read one connection's balances into its snapshot (single-flight: a sibling's fill makes this a no-op)."""
    connection_balances_fill(connection_id=connection_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def warm_balances() -> int:
    """Beat runs this every minute: fill the snapshots of recently signed-in users before they are due."""
    return connections_balances_warm()
