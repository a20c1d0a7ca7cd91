"""Tasks take ids, load, call a service; retries live here."""

import logging

from celery import shared_task

from broker_portal.enqueue import enqueue_each
from connectors.base.http import ExchangeUnavailable
from connectors.models import ExchangeConnection

from .models import ExportJob
from .services.jobs import (
    EXPORT_SOFT_TIME_LIMIT,
    EXPORT_TIME_LIMIT,
    export_fail,
    export_fail_if_abandoned,
    export_run,
    exports_fail_stalled,
    exports_housekeeping,
)
from .services.sync import connections_due_for_sync, sync_connection_history

logger = logging.getLogger(__name__)


# A first sync walks a year of windows (KuCoin: a request per day of ledgers), longer than the default task limit;
# each page is saved, so a pass stopped by the limit resumes with the next run.
@shared_task(bind=True, max_retries=8, acks_late=True, soft_time_limit=1800, time_limit=1860)
def sync_connection(self, connection_id: int):
    connection = ExchangeConnection.objects.filter(pk=connection_id).first()
    if connection is None or connection.status != ExchangeConnection.Status.ACTIVE:
        return None
    try:
        return sync_connection_history(connection=connection)
    except ExchangeUnavailable as error:
        # The sync state holds the cursor it stopped at, so the retry continues from there.
        countdown = error.retry_after or min(600, 30 * 2**self.request.retries)
        raise self.retry(exc=error, countdown=countdown)


@shared_task
def sync_all_connections():
    enqueue_each("exports.tasks.sync_connection", ([connection_id] for connection_id in connections_due_for_sync()))
    exports_housekeeping()


@shared_task(soft_time_limit=EXPORT_SOFT_TIME_LIMIT, time_limit=EXPORT_TIME_LIMIT)
def run_export(job_id: int):
    job = ExportJob.objects.select_related("tenant").filter(pk=job_id).first()
    if job is not None and job.status == ExportJob.Status.RUNNING:
        # Redelivered: the broker hands the message out again after its worker is lost, and (Redis) while a long
        # run goes on. Only a run older than any worker's limit is abandoned; a live one is left to finish.
        export_fail_if_abandoned(job=job)
        return
    if job is None or job.status != ExportJob.Status.PENDING:
        return
    try:
        export_run(job=job)
    except Exception as error:
        logger.exception("Export %s failed", job_id)
        export_fail(job_id=job_id, error=f"The export failed: {error.__class__.__name__}")


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def fail_stalled_exports():
    """Beat: jobs whose worker died are failed within minutes, not hours."""
    exports_fail_stalled()
