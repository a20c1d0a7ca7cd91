"""Writes: export jobs from request to file, their failure, and the housekeeping of jobs and files left behind."""

import logging
import secrets
import threading
from contextlib import contextmanager
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from broker_portal.audit import record_audit_event
from broker_portal.enqueue import enqueue_on_commit
from broker_portal.errors import PortalError
from broker_portal.models import Membership
from connectors.models import ExchangeConnection
from webhooks.services import event_record

from ..formats import FORMATS
from ..models import ExportFormat, ExportJob, HistoryKind
from ..selectors import history_for_export, history_range, is_export_staff
from .writers import exports_dir, write_with_copy, write_with_python

logger = logging.getLogger(__name__)

# No exchange holds history from before Bitcoin's first block. A range may end as late as the end of next year (an
# accountant asks for whole tax years, the current one included), not later. A range beyond these is refused where
# it is asked for: the job would compute its end (date_to + 1 day) past date.max and fail with OverflowError.
EARLIEST_HISTORY_DATE = date(2009, 1, 3)
# The export task's limits (tasks.run_export): exports of millions of rows outlast the default ones.
EXPORT_SOFT_TIME_LIMIT = 3 * 3600
EXPORT_TIME_LIMIT = EXPORT_SOFT_TIME_LIMIT + 60
# A job RUNNING for longer than the hard limit plus this has no worker left: the limit killed it, or it died.
ABANDONED_AFTER = timedelta(seconds=EXPORT_TIME_LIMIT) + timedelta(minutes=10)
# While a job runs, a thread of its worker writes heartbeat_at every EXPORT_HEARTBEAT_SECONDS (a setting); a
# RUNNING job whose heartbeat is older than STALLED_AFTER_BEATS beats lost its worker (killed, OOM, host lost).
STALLED_AFTER_BEATS = 4
STALLED_MESSAGE = "The export stopped because the worker running it was lost. Start it again."
ABANDONED_MESSAGE = (
    "The export did not finish within {hours} hours and was stopped. Request it again, for a shorter "
    "range or fewer kinds of history if it is large."
)


class ExportError(PortalError):
    """A request the portal refuses; the message is for the person who made it."""

    error_code = "export_refused"


class ExportWouldBeEmpty(ExportError):
    """No synced row falls in the request: the file would hold its header alone. Asked again with ``allow_empty``
    it is made."""


@transaction.atomic
def export_range_errors(date_from, date_to) -> dict[str, str]:
    """Why this range cannot be exported, by the field to correct ({} when it can)."""
    latest = date(timezone.now().year + 1, 12, 31)
    errors = {}
    if date_from < EARLIEST_HISTORY_DATE:
        errors["date_from"] = f"Exchange history starts after {EARLIEST_HISTORY_DATE.isoformat()}; start then or later."
    if date_to > latest:
        errors["date_to"] = f"End the range by {latest.isoformat()} at the latest."
    if not errors and date_from > date_to:
        errors["date_from"] = "The start of the range is after its end."
    return errors


def export_request(
    *,
    tenant,
    user,
    membership: Membership | None,
    scope: str,
    kinds: list[str],
    export_format: str,
    date_from,
    date_to,
    scope_user=None,
    scope_connection: ExchangeConnection | None = None,
    request=None,
    allow_empty: bool = True,
) -> ExportJob:
    """Accountants and broker admins export any scope of their tenant; others only their own connections. Without
    ``allow_empty``, a request no synced row falls in is refused with where the synced history lies instead."""
    if membership is None:
        raise ExportError("You are not a member of this broker.")
    kinds = [kind for kind in HistoryKind.values if kind in kinds]
    if not kinds:
        raise ExportError("Choose at least one kind of history.")
    if export_format not in ExportFormat.values:
        raise ExportError("Choose a format.")
    range_errors = export_range_errors(date_from, date_to)
    if range_errors:
        raise ExportError(" ".join(range_errors.values()))
    staff = is_export_staff(membership)
    if scope == ExportJob.Scope.TENANT and not staff:
        raise ExportError("Only accountants and broker admins export the whole tenant.")
    if scope == ExportJob.Scope.USER:
        scope_user = scope_user if staff else user
        if scope_user is None or not scope_user.memberships.filter(tenant=tenant).exists():
            raise ExportError("Choose a user of this broker.")
    elif scope == ExportJob.Scope.CONNECTION:
        if (
            scope_connection is None
            or scope_connection.tenant_id != tenant.pk
            or (not staff and scope_connection.user_id != user.pk)
        ):
            raise ExportError("Choose one of the connections you may export.")
        scope_user = None
    elif scope == ExportJob.Scope.TENANT:
        scope_user = scope_connection = None
    else:
        raise ExportError("Choose a scope.")
    job = ExportJob(
        tenant=tenant,
        requested_by=user,
        scope=scope,
        scope_user=scope_user,
        scope_connection=scope_connection if scope == ExportJob.Scope.CONNECTION else None,
        kinds=kinds,
        format=export_format,
        date_from=date_from,
        date_to=date_to,
    )
    if not allow_empty and not history_for_export(job=job).exists():
        raise ExportWouldBeEmpty(empty_export_message(job))
    job.save()
    record_audit_event(
        tenant=tenant,
        action="export.requested",
        actor=user,
        target=job,
        request=request,
        details={
            "scope": scope,
            "user": scope_user.pk if scope_user else None,
            "connection": scope_connection.pk if scope == ExportJob.Scope.CONNECTION and scope_connection else None,
            "kinds": kinds,
            "format": export_format,
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
        },
    )
    enqueue_on_commit("exports.tasks.run_export", job.pk)
    return job


def empty_export_message(job: ExportJob) -> str:
    """Why the file would be empty, and where the synced history of the same choice lies."""
    chosen = f"{job.date_from.isoformat()} – {job.date_to.isoformat()}"
    everything = ExportJob(
        tenant=job.tenant,
        scope=job.scope,
        scope_user=job.scope_user,
        scope_connection=job.scope_connection,
        kinds=job.kinds,
        format=job.format,
        date_from=EARLIEST_HISTORY_DATE,
        date_to=date.max - timedelta(days=1),
    )
    first, last = history_range(history_for_export(job=everything))
    if first is None or last is None:
        held = "Nothing of this choice has been synced yet: sync the connection first."
    else:
        held = f"The synced history of this choice runs from {first.date().isoformat()} to {last.date().isoformat()}."
    return f"No synced row falls in {chosen}, so the file would be empty. {held}"


def export_run(*, job: ExportJob, use_copy: bool | None = None) -> ExportJob:
    """Stream the job's rows to its file with bounded memory, saving progress as it goes.

    On PostgreSQL the CSV formats come straight from ``COPY (SELECT …) TO STDOUT`` (the same columns as SQL,
    tests hold both paths to the same bytes); elsewhere, and for XLSX, rows are written here from a chunked
    iterator."""
    export_format = FORMATS[job.format]
    if use_copy is None:
        use_copy = export_format.sql_columns is not None and connection.vendor == "postgresql"
    # A random name: the file is only ever served through the download view, never from a guessable URL.
    file_name = f"{job.tenant.slug}-export-{job.pk}-{secrets.token_hex(8)}.{export_format.extension}"
    started = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, rows_written=0, file_name=file_name, started_at=started, heartbeat_at=started
    )
    path = exports_dir() / file_name
    entries = history_for_export(job=job)
    try:
        write = write_with_copy if use_copy else write_with_python
        with export_heartbeat(job_id=job.pk):
            counts, digest, size = write(job=job, export_format=export_format, entries=entries, path=path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finished = timezone.now()
    written = sum(counts.values())
    with transaction.atomic():
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.DONE,
            rows_written=written,
            rows_total=written,
            row_counts=counts,
            sha256=digest,
            size_bytes=size,
            finished_at=finished,
            expires_at=finished + timedelta(hours=settings.EXPORTS_LINK_HOURS),
        )
        job.refresh_from_db()
        event_record(
            tenant=job.tenant_id,
            type="export.ready",
            payload={
                "export_id": job.pk,
                "format": job.format,
                "rows": written,
                "sha256": digest,
                "expires_at": job.expires_at,
            },
        )
    return job


def heartbeat_seconds() -> float:
    return float(settings.EXPORT_HEARTBEAT_SECONDS)


@contextmanager
def export_heartbeat(*, job_id: int):
    """Beat on the job's row from a thread with its own database connection, so that a long COPY (which reports
    nothing until its first rows) still shows its worker alive, and a killed worker stops beating at once.
    Inside an outer transaction (tests) nothing beats: the caller may hold the row's lock, and a beat would wait
    for it."""
    if connection.in_atomic_block:
        yield
        return
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(heartbeat_seconds()):
                ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(heartbeat_at=timezone.now())
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"export-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@transaction.atomic
def export_fail(*, job_id: int, error: str) -> None:
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportJob.Status.FAILED, error=error[:500], finished_at=timezone.now()
    )
    export_record_failed(job_id=job_id)


def export_record_failed(*, job_id: int) -> None:
    """The ``export.failed`` event of a job just failed; inside the transaction that failed it."""
    job = ExportJob.objects.filter(pk=job_id).values("tenant_id", "format", "error").first()
    if job is not None:
        event_record(
            tenant=job["tenant_id"],
            type="export.failed",
            payload={"export_id": job_id, "format": job["format"], "error": job["error"]},
        )


@transaction.atomic
def export_record_download(*, job: ExportJob, request) -> None:
    record_audit_event(
        tenant=job.tenant,
        action="export.downloaded",
        target=job,
        request=request,
        details={"sha256": job.sha256, "format": job.format, "rows": job.rows_written},
    )


def export_fail_if_abandoned(*, job: ExportJob, now=None) -> bool:
    """Fail a RUNNING job that has run longer than any worker may, and remove its partial file.

    A worker killed at the hard time limit runs no ``except``/``finally``: the job would stay RUNNING, its
    redelivered task skipping it, and its partial file would stay on disk."""
    now = now or timezone.now()
    # Jobs started before ``started_at`` was recorded are judged by when they were requested.
    started = job.started_at or job.created_at
    if job.status != ExportJob.Status.RUNNING or started > now - ABANDONED_AFTER:
        return False
    message = ABANDONED_MESSAGE.format(hours=EXPORT_SOFT_TIME_LIMIT // 3600)
    # Only if still RUNNING: a run that finished meanwhile keeps its result.
    with transaction.atomic():
        if not ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
            status=ExportJob.Status.FAILED, error=message, finished_at=now, file_name=""
        ):
            return False
        export_record_failed(job_id=job.pk)
    if job.file_name:
        (exports_dir() / job.file_name).unlink(missing_ok=True)
    logger.warning("Export %s had been running since %s without a worker; failed", job.pk, started)
    return True


def exports_fail_stalled(*, now=None) -> int:
    """Beat (every minute): fail each RUNNING job whose heartbeat stopped, and remove its partial file, so a
    killed worker's job is failed within minutes and can be requested again."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=heartbeat_seconds() * STALLED_AFTER_BEATS)
    failed = 0
    for job in ExportJob.objects.filter(status=ExportJob.Status.RUNNING, heartbeat_at__lt=cutoff):
        # Only if its heartbeat is still the stale one: a job that beat or finished meanwhile keeps running.
        with transaction.atomic():
            stalled = ExportJob.objects.filter(
                pk=job.pk, status=ExportJob.Status.RUNNING, heartbeat_at=job.heartbeat_at
            ).update(status=ExportJob.Status.FAILED, error=STALLED_MESSAGE, finished_at=now, file_name="")
            if stalled:
                export_record_failed(job_id=job.pk)
        if stalled:
            if job.file_name:
                (exports_dir() / job.file_name).unlink(missing_ok=True)
            logger.warning("Export %s lost its worker (last heartbeat %s); failed", job.pk, job.heartbeat_at)
            failed += 1
    return failed


def exports_fail_abandoned(*, now=None) -> int:
    now = now or timezone.now()
    cutoff = now - ABANDONED_AFTER
    running = ExportJob.objects.filter(status=ExportJob.Status.RUNNING).filter(
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, created_at__lt=cutoff)
    )
    return sum(export_fail_if_abandoned(job=job, now=now) for job in running)


def exports_delete_expired(*, now=None) -> int:
    """Housekeeping: expired files go, and whatever a failed export left behind; the job rows stay as the record
    of what was exported."""
    now = now or timezone.now()
    removed = 0
    for job in ExportJob.objects.filter(status=ExportJob.Status.DONE, expires_at__lt=now).exclude(file_name=""):
        (exports_dir() / job.file_name).unlink(missing_ok=True)
        removed += 1
    for job in ExportJob.objects.filter(status=ExportJob.Status.FAILED).exclude(file_name=""):
        (exports_dir() / job.file_name).unlink(missing_ok=True)
        # A failed job has no file to serve: forgetting the name keeps the next pass from visiting it again.
        ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.FAILED).update(file_name="")
        removed += 1
    return removed


def exports_housekeeping(*, now=None) -> dict[str, int]:
    """Run by the hourly sync task: no process of its own."""
    return {"abandoned": exports_fail_abandoned(now=now), "files_removed": exports_delete_expired(now=now)}
