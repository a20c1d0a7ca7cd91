"""Writes: syncing exchange history into HistoryEntry, and export jobs from request to file."""

import csv
import hashlib
import io
import itertools
import logging
import secrets
import threading
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Count, Max, Min, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from broker_portal.audit import record_audit_event
from broker_portal.enqueue import enqueue_on_commit
from broker_portal.event_metrics import EventHistogram
from broker_portal.models import Membership
from connectors.models import ExchangeConnection
from connectors.base.history import HistorySource, first_cursor, from_ms
from connectors.clients import connection_api
from connectors.exchanges import history_source
from connectors.refresh import call_with_fresh_token
from webhooks.events import connection_data
from webhooks.services import event_record

from .formats import FIELDS, FORMATS, open_writer
from .models import ExportFormat, ExportJob, HistoryEntry, HistoryKind, SyncState
from .selectors import history_for_export, history_range, history_start, is_export_staff

logger = logging.getLogger(__name__)

# No exchange holds history from before Bitcoin's first block. A range may end as late as the end of next year (an
# accountant asks for whole tax years, the current one included), not later. A range beyond these is refused where
# it is asked for: the job would compute its end (date_to + 1 day) past date.max and fail with OverflowError.
EARLIEST_HISTORY_DATE = date(2009, 1, 3)
PROGRESS_EVERY_ROWS = 5000
PROGRESS_EVERY_SECONDS = 0.5
CHUNK_SIZE = 5000
# What an exchange may still change on a row it reported before: a deposit or withdrawal settles.
SETTLING_FIELDS = ("status", "fee", "fee_currency", "txid")
# Rows not yet final are read again while this recent; exchanges settle in hours or days, and a row still open
# after a month is stuck at the exchange, not worth re-reading its whole month every hour.
UNSETTLED_LOOKBACK = timedelta(days=30)
# The export task's limits (tasks.run_export): exports of millions of rows outlast the default ones.
EXPORT_SOFT_TIME_LIMIT = 3 * 3600
EXPORT_TIME_LIMIT = EXPORT_SOFT_TIME_LIMIT + 60
# A job RUNNING for longer than the hard limit plus this has no worker left: the limit killed it, or it died.
ABANDONED_AFTER = timedelta(seconds=EXPORT_TIME_LIMIT) + timedelta(minutes=10)
# While a job runs, a thread of its worker writes heartbeat_at every EXPORT_HEARTBEAT_SECONDS (a setting); a
# RUNNING job whose heartbeat is older than STALLED_AFTER_BEATS beats lost its worker (killed, OOM, host lost).
STALLED_AFTER_BEATS = 4
STALLED_MESSAGE = "The export stopped because the worker running it was lost. Start it again."
ABANDONED_MESSAGE = ("The export did not finish within {hours} hours and was stopped. Request it again, for a shorter "
                     "range or fewer kinds of history if it is large.")
# Each pass of one kind of one connection's history: completed or failed, and how long it took (/metrics reads
# it). A first pass may walk a year of windows, up to the sync task's limit.
HISTORY_SYNC_PASSES = EventHistogram("history_sync", label_names=("exchange", "kind", "outcome"),
                                     buckets=(1, 5, 15, 60, 300, 900, 1800))


class ExportError(Exception):
    """A request the portal refuses; the message is for the person who made it."""


class ExportWouldBeEmpty(ExportError):
    """No synced row falls in the request: the file would hold its header alone. Asked again with ``allow_empty``
    it is made."""


# --- sync -----------------------------------------------------------------------------------------


def sync_connection_history(*, connection: ExchangeConnection, kinds=None) -> dict[str, int]:
    """Import what the exchange has that we do not, and update the recent rows it has settled since; returns the
    rows added per kind."""
    source = history_source(connection.exchange)
    if source is None or not connection.api_key:
        return {}
    api = connection_api(connection)
    added = {}
    for kind in source.kinds:
        if kinds is None or kind in kinds:
            with HISTORY_SYNC_PASSES.timed(exchange=connection.exchange, kind=kind):
                added[kind] = sync_history_kind(source=source, api=api, connection=connection, kind=kind)
    return added


def sync_history_kind(*, source: HistorySource, api, connection: ExchangeConnection, kind: str) -> int:
    """One pass from now back to the rows we already hold (the first time, to the history start), or further back
    to the oldest recent row whose status may still change (see ``pass_floor``).

    After every page the next cursor is saved, so a pass that fails resumes at the page it stopped on, with the
    range it started with. Only a pass that ends moves the range the state says is complete (``covered_from``,
    ``covered_to``): a half-done pass leaves a gap between the rows it stored and those held before."""
    state, _ = SyncState.objects.get_or_create(connection=connection, kind=kind)
    cursor = state.resume_cursor
    if not isinstance(cursor, dict) or "since" not in cursor:  # no pass under way (or one from before ranges)
        cursor = first_cursor(pass_since(source=source, state=state, kind=kind), timezone.now())
        state.pass_reach = None
    pause = source.pause_seconds * settings.EXPORTS_SYNC_PAUSE_SCALE
    added = 0
    first = True
    while True:
        if not first and pause:
            time.sleep(pause)
        first = False
        try:
            # An expired access token (Peatio's key lasts 4 h) is renewed once and the page asked again.
            page = call_with_fresh_token(
                connection=connection, call=lambda fresh: source.fetch_page(api, fresh, kind, cursor))
            items, next_cursor = page[0], page[1]
            reach_ms = page[2] if len(page) > 2 else None
            rows = [source.normalize(kind, item) for item in items]
        except Exception as error:
            with transaction.atomic():
                SyncState.objects.filter(pk=state.pk).update(last_error=str(error)[:500])
                # Said once when the kind starts failing, not on every retry of the same outage.
                if not state.last_error:
                    event_record(tenant=connection.tenant_id, type="history.sync_failed",
                                 payload=connection_data(connection, kind=kind, error=str(error)[:500]))
            raise
        with transaction.atomic():
            stored, updated = store_history(connection=connection, kind=kind, rows=rows)
            added += stored
            if updated:
                logger.info("History sync of connection %s updated %s %s rows", connection.pk, updated, kind)
            if reach_ms is not None:
                reach = from_ms(reach_ms)
                state.pass_reach = max(state.pass_reach, reach) if state.pass_reach else reach
            done = next_cursor is None
            state.resume_cursor = None if done else next_cursor
            state.rows_stored += stored
            if done:
                # A broker hears of a pass that brought rows, the first one, or one that ends a failure; not of
                # the hourly passes that found nothing new.
                if added or state.last_synced_at is None or state.last_error:
                    event_record(tenant=connection.tenant_id, type="history.synced",
                                 payload=connection_data(connection, kind=kind, rows_added=added))
                cover(state=state, source=source, kind=kind, cursor=cursor)
                state.last_synced_at = timezone.now()
                state.last_error = ""
            state.save()
        if done:
            return added
        cursor = next_cursor


def pass_since(*, source: HistorySource, state: SyncState, kind: str) -> datetime:
    """A pass walks back to the floor below the rows held; a state that covers nothing yet walks to the start."""
    start = history_start(source=source, kind=kind)
    if state.covered_to is None:
        return start
    floor = pass_floor(source=source, connection=state.connection, kind=kind)
    return max(min(floor or state.covered_to, state.covered_to), start)


def cover(*, state: SyncState, source: HistorySource, kind: str, cursor: dict) -> None:
    """A pass over [since, until] ended: everything in it is held, except before an exchange's cap (``pass_reach``).
    It joins the range held before where the two meet; otherwise the older range is left behind as a gap."""
    since, until = from_ms(cursor["since"]), from_ms(cursor["until"])
    reach = max(since, state.pass_reach) if state.pass_reach else since
    joined = state.covered_from is not None and state.covered_to is not None and reach <= state.covered_to
    state.covered_from = min(state.covered_from, reach) if joined else reach
    state.covered_to = max(state.covered_to, until) if joined else until
    state.pass_reach = None


def pass_floor(*, source: HistorySource, connection: ExchangeConnection, kind: str) -> datetime | None:
    """How far back a new pass reads: to the newest row held, or, if older, to the oldest row of the last
    ``UNSETTLED_LOOKBACK`` whose status is not final, so that the pass reads that row again with what it became.

    Bounded by the look-back window so that a row the exchange never settles does not make every sync re-read
    all history."""
    held = HistoryEntry.objects.filter(connection=connection, kind=kind)
    newest = held.aggregate(newest=Max("occurred_at"))["newest"]
    if newest is None or kind not in source.final_statuses:
        return newest
    unsettled = (held.filter(occurred_at__gte=timezone.now() - UNSETTLED_LOOKBACK)
                 .exclude(status__in=source.final_statuses[kind]).aggregate(oldest=Min("occurred_at"))["oldest"])
    return min(newest, unsettled) if unsettled else newest


def store_history(*, connection: ExchangeConnection, kind: str, rows: list[dict]) -> tuple[int, int]:
    """Insert the rows not held yet and bring held rows up to date with what the exchange reports now (a
    withdrawal that was processing has succeeded or failed); returns (rows added, rows updated).

    The unique constraint keeps a concurrent sync from adding one twice."""
    by_id = {row["external_id"]: row for row in rows}
    held = {entry.external_id: entry for entry in HistoryEntry.objects.filter(
        connection=connection, kind=kind, external_id__in=list(by_id)).only("external_id", *SETTLING_FIELDS)}
    new = [HistoryEntry(tenant_id=connection.tenant_id, connection=connection, user_id=connection.user_id,
                        exchange=connection.exchange, kind=kind, **row)
           for external_id, row in by_id.items() if external_id not in held]
    HistoryEntry.objects.bulk_create(new, ignore_conflicts=True)
    changed = []
    for external_id, entry in held.items():
        row = by_id[external_id]
        fresh = {name: row[name] for name in SETTLING_FIELDS if name in row and getattr(entry, name) != row[name]}
        if fresh:
            for name, value in fresh.items():
                setattr(entry, name, value)
            changed.append(entry)
    HistoryEntry.objects.bulk_update(changed, SETTLING_FIELDS)
    return len(new), len(changed)


def sync_request(*, connection: ExchangeConnection, request=None) -> None:
    """On demand: audited, run by the worker."""
    from .tasks import sync_connection

    record_audit_event(tenant=connection.tenant, action="history.sync_requested", target=connection, request=request,
                       details={"exchange": connection.exchange})
    transaction.on_commit(lambda: sync_connection.delay(connection.pk))


def connections_due_for_sync():
    # The key is encrypted, so it cannot be filtered on; a connection without one syncs nothing.
    return ExchangeConnection.objects.filter(status=ExchangeConnection.Status.ACTIVE).values_list("pk", flat=True)


# --- exports --------------------------------------------------------------------------------------


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


def export_request(*, tenant, user, membership: Membership | None, scope: str, kinds: list[str], export_format: str,
                   date_from, date_to, scope_user=None, scope_connection: ExchangeConnection | None = None,
                   request=None, allow_empty: bool = True) -> ExportJob:
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
        if scope_connection is None or scope_connection.tenant_id != tenant.pk or (
                not staff and scope_connection.user_id != user.pk):
            raise ExportError("Choose one of the connections you may export.")
        scope_user = None
    elif scope == ExportJob.Scope.TENANT:
        scope_user = scope_connection = None
    else:
        raise ExportError("Choose a scope.")
    job = ExportJob(
        tenant=tenant, requested_by=user, scope=scope, scope_user=scope_user,
        scope_connection=scope_connection if scope == ExportJob.Scope.CONNECTION else None,
        kinds=kinds, format=export_format, date_from=date_from, date_to=date_to,
    )
    if not allow_empty and not history_for_export(job=job).exists():
        raise ExportWouldBeEmpty(empty_export_message(job))
    job.save()
    record_audit_event(tenant=tenant, action="export.requested", actor=user, target=job, request=request, details={
        "scope": scope, "user": scope_user.pk if scope_user else None,
        "connection": scope_connection.pk if scope == ExportJob.Scope.CONNECTION else None,
        "kinds": kinds, "format": export_format, "from": date_from.isoformat(), "to": date_to.isoformat(),
    })
    enqueue_on_commit("exports.tasks.run_export", job.pk)
    return job


def empty_export_message(job: ExportJob) -> str:
    """Why the file would be empty, and where the synced history of the same choice lies."""
    chosen = f"{job.date_from.isoformat()} – {job.date_to.isoformat()}"
    everything = ExportJob(tenant=job.tenant, scope=job.scope, scope_user=job.scope_user,
                           scope_connection=job.scope_connection, kinds=job.kinds, format=job.format,
                           date_from=EARLIEST_HISTORY_DATE, date_to=date.max - timedelta(days=1))
    first, last = history_range(history_for_export(job=everything))
    if first is None:
        held = "Nothing of this choice has been synced yet: sync the connection first."
    else:
        held = f"The synced history of this choice runs from {first.date().isoformat()} to {last.date().isoformat()}."
    return f"No synced row falls in {chosen}, so the file would be empty. {held}"


def exports_dir() -> Path:
    directory = Path(settings.EXPORTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def export_path(job: ExportJob) -> Path:
    return exports_dir() / job.file_name


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
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, rows_written=0, file_name=file_name,
                                               started_at=started, heartbeat_at=started)
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
            status=ExportJob.Status.DONE, rows_written=written, rows_total=written, row_counts=counts,
            sha256=digest, size_bytes=size, finished_at=finished,
            expires_at=finished + timedelta(hours=settings.EXPORTS_LINK_HOURS),
        )
        job.refresh_from_db()
        event_record(tenant=job.tenant_id, type="export.ready", payload={
            "export_id": job.pk, "format": job.format, "rows": written, "sha256": digest,
            "expires_at": job.expires_at})
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
                ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
                    heartbeat_at=timezone.now())
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"export-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def write_with_python(*, job, export_format, entries, path) -> tuple[dict[str, int], str, int]:
    ExportJob.objects.filter(pk=job.pk).update(rows_total=entries.count())
    counts = {kind: 0 for kind in job.kinds}
    written = 0
    writer = open_writer(export_format, path)
    try:
        for entry in entries.values_list(*FIELDS, named=True).iterator(chunk_size=CHUNK_SIZE):
            writer.write(export_format.row(entry))
            counts[entry.kind] += 1
            written += 1
            if written % PROGRESS_EVERY_ROWS == 0:
                ExportJob.objects.filter(pk=job.pk).update(rows_written=written)
    finally:
        writer.close()
    return counts, *file_digest(path)


def copy_statement(*, entries, export_format) -> tuple[str, tuple]:
    """``COPY (SELECT <the format's columns as SQL> FROM <the entries' query>) TO STDOUT`` and its parameters."""
    names = [f"c{index}" for index in range(len(export_format.sql_columns))]
    rows = entries.annotate(**{name: RawSQL(expression, ()) for name, expression
                               in zip(names, export_format.sql_columns)}).values_list(*names)
    sql, params = rows.query.sql_with_params()
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params


def write_with_copy(*, job, export_format, entries, path) -> tuple[dict[str, int], str, int]:
    """Counts and rows from one REPEATABLE READ snapshot on a connection of its own, so the manifest matches
    the file and progress (written through the default connection) is visible while COPY runs. Inside an
    outer transaction (tests) that transaction's connection is used, without progress until the end."""
    own = not connection.in_atomic_block
    reader = connections.create_connection(DEFAULT_DB_ALIAS) if own else connection
    try:
        if own:
            reader.set_autocommit(False)
        with reader.cursor() as cursor:
            if own:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            count_sql, count_params = entries.order_by().values("kind").annotate(rows=Count("id")) \
                .values_list("kind", "rows").query.sql_with_params()
            cursor.execute(count_sql, count_params)
            counts = {kind: 0 for kind in job.kinds} | dict(cursor.fetchall())
            total = sum(counts.values())
            ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
            sql, params = copy_statement(entries=entries, export_format=export_format)
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(export_format.columns)
            digest, size = hashlib.sha256(), 0
            with open(path, "wb") as file:
                lines, reported = 0, time.monotonic()
                with cursor.cursor.copy(sql, params) as copy:
                    for block in itertools.chain([header.getvalue().encode()], copy):
                        file.write(block)
                        digest.update(block)
                        size += len(block)
                        lines += 1  # COPY hands over one row per block
                        if own and lines % PROGRESS_EVERY_ROWS == 0 and \
                                time.monotonic() - reported > PROGRESS_EVERY_SECONDS:
                            # Blocks, not rows: a quoted cell may hold a newline; the final count is exact.
                            ExportJob.objects.filter(pk=job.pk).update(rows_written=min(lines, total))
                            reported = time.monotonic()
        return counts, digest.hexdigest(), size
    finally:
        if own:
            reader.rollback()
            reader.close()


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@transaction.atomic
def export_fail(*, job_id: int, error: str) -> None:
    ExportJob.objects.filter(pk=job_id).update(status=ExportJob.Status.FAILED, error=error[:500],
                                               finished_at=timezone.now())
    export_record_failed(job_id=job_id)


def export_record_failed(*, job_id: int) -> None:
    """The ``export.failed`` event of a job just failed; inside the transaction that failed it."""
    job = ExportJob.objects.filter(pk=job_id).values("tenant_id", "format", "error").first()
    if job is not None:
        event_record(tenant=job["tenant_id"], type="export.failed",
                     payload={"export_id": job_id, "format": job["format"], "error": job["error"]})


@transaction.atomic
def export_record_download(*, job: ExportJob, request) -> None:
    record_audit_event(tenant=job.tenant, action="export.downloaded", target=job, request=request,
                       details={"sha256": job.sha256, "format": job.format, "rows": job.rows_written})


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
                status=ExportJob.Status.FAILED, error=message, finished_at=now, file_name=""):
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
            stalled = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING,
                                               heartbeat_at=job.heartbeat_at).update(
                status=ExportJob.Status.FAILED, error=STALLED_MESSAGE, finished_at=now, file_name="")
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
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, created_at__lt=cutoff))
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
