"""Writes: syncing an exchange's history into HistoryEntry, pass by pass, resuming where a pass stopped."""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from broker_portal.audit import record_audit_event
from broker_portal.enqueue import enqueue_on_commit
from broker_portal.event_metrics import EventHistogram
from connectors.base.history import HistorySource, Page, first_cursor, from_ms
from connectors.clients import connection_api
from connectors.exchanges import history_source
from connectors.models import ExchangeConnection
from connectors.token_refresh import call_with_fresh_token
from webhooks.events import connection_data
from webhooks.services import event_record

from ..models import HistoryEntry, SyncState
from ..selectors import history_start

logger = logging.getLogger(__name__)

# What an exchange may still change on a row it reported before: a deposit or withdrawal settles.
SETTLING_FIELDS = ("status", "fee", "fee_currency", "txid")
# Rows not yet final are read again while this recent; exchanges settle in hours or days, and a row still open
# after a month is stuck at the exchange, not worth re-reading its whole month every hour.
UNSETTLED_LOOKBACK = timedelta(days=30)
# Each pass of one kind of one connection's history: completed or failed, and how long it took (/metrics reads
# it). A first pass may walk a year of windows, up to the sync task's limit.
HISTORY_SYNC_PASSES = EventHistogram(
    "history_sync", label_names=("exchange", "kind", "outcome"), buckets=(1, 5, 15, 60, 300, 900, 1800)
)


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
            page = call_with_fresh_token(connection=connection, call=page_reader(source, api, kind, cursor))
            items, next_cursor = page[0], page[1]
            reach_ms = page[2] if len(page) > 2 else None
            rows = [source.normalize(kind, item) for item in items]
        except Exception as error:
            with transaction.atomic():
                SyncState.objects.filter(pk=state.pk).update(last_error=str(error)[:500])
                # Said once when the kind starts failing, not on every retry of the same outage.
                if not state.last_error:
                    event_record(
                        tenant=connection.tenant_id,
                        type="history.sync_failed",
                        payload=connection_data(connection, kind=kind, error=str(error)[:500]),
                    )
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
                    event_record(
                        tenant=connection.tenant_id,
                        type="history.synced",
                        payload=connection_data(connection, kind=kind, rows_added=added),
                    )
                cover(state=state, source=source, kind=kind, cursor=cursor)
                state.last_synced_at = timezone.now()
                state.last_error = ""
            state.save()
        if done:
            return added
        cursor = next_cursor


def page_reader(source: HistorySource, api: Any, kind: str, cursor: dict) -> Callable[[ExchangeConnection], Page]:
    """The call that reads one page with the connection as it stands (a renewed token reads it again)."""
    return lambda fresh: source.fetch_page(api, fresh, kind, cursor)


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
    held_from, held_to = state.covered_from, state.covered_to
    if held_from is not None and held_to is not None and reach <= held_to:
        state.covered_from, state.covered_to = min(held_from, reach), max(held_to, until)
    else:
        state.covered_from, state.covered_to = reach, until
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
    unsettled = (
        held.filter(occurred_at__gte=timezone.now() - UNSETTLED_LOOKBACK)
        .exclude(status__in=source.final_statuses[kind])
        .aggregate(oldest=Min("occurred_at"))["oldest"]
    )
    return min(newest, unsettled) if unsettled else newest


def store_history(*, connection: ExchangeConnection, kind: str, rows: list[dict]) -> tuple[int, int]:
    """Insert the rows not held yet and bring held rows up to date with what the exchange reports now (a
    withdrawal that was processing has succeeded or failed); returns (rows added, rows updated).

    The unique constraint keeps a concurrent sync from adding one twice."""
    by_id = {row["external_id"]: row for row in rows}
    held = {
        entry.external_id: entry
        for entry in HistoryEntry.objects.filter(connection=connection, kind=kind, external_id__in=list(by_id)).only(
            "external_id", *SETTLING_FIELDS
        )
    }
    new = [
        HistoryEntry(
            tenant_id=connection.tenant_id,
            connection=connection,
            user_id=connection.user_id,
            exchange=connection.exchange,
            kind=kind,
            **row,
        )
        for external_id, row in by_id.items()
        if external_id not in held
    ]
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
    record_audit_event(
        tenant=connection.tenant,
        action="history.sync_requested",
        target=connection,
        request=request,
        details={"exchange": connection.exchange},
    )
    enqueue_on_commit("exports.tasks.sync_connection", connection.pk)


def connections_due_for_sync():
    # The key is encrypted, so it cannot be filtered on; a connection without one syncs nothing.
    return ExchangeConnection.objects.filter(status=ExchangeConnection.Status.ACTIVE).values_list("pk", flat=True)
