"""Reads: the history an export covers, the jobs a person may see, the connections they may export."""

from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone as django_timezone

from broker_portal.models import Membership, User
from connectors.base.history import HistorySource
from connectors.exchanges import history_sources
from connectors.models import ExchangeConnection

from .formats import FORMATS
from .models import ExportJob, HistoryEntry, HistoryKind, SyncState

STAFF_ROLES = (Membership.Role.BROKER_ADMIN, Membership.Role.ACCOUNTANT)


def is_export_staff(membership: Membership | None) -> bool:
    return membership is not None and membership.role in STAFF_ROLES


def day_bounds(date_from, date_to) -> tuple[datetime, datetime]:
    """Whole UTC days, both ends included."""
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    return start, datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)


def history_for_export(*, job: ExportJob) -> QuerySet:
    start, end = day_bounds(job.date_from, job.date_to)
    entries = HistoryEntry.objects.filter(
        tenant_id=job.tenant_id, kind__in=job.kinds, occurred_at__gte=start, occurred_at__lt=end
    )
    if job.scope == ExportJob.Scope.USER:
        entries = entries.filter(user_id=job.scope_user_id)  # type: ignore[misc]  # set in this scope (a constraint)
    elif job.scope == ExportJob.Scope.CONNECTION:
        entries = entries.filter(connection_id=job.scope_connection_id)
    if FORMATS[job.format].completed_movements_only:
        # In the query, so the Python writer and PostgreSQL's COPY export the same rows.
        entries = entries.filter(completed_movements())
    return entries.order_by("occurred_at", "id")


def completed_movements() -> Q:
    """Each economic movement once: trades; the deposits and withdrawals in a status where their exchange says the
    money moved (not failed, cancelled or still on the way); and the ledger entries that are movements of their own
    (a fee, a reward), not those that repeat a trade, deposit or withdrawal (the exchange's ``ledger_repeats``)."""
    condition = Q(kind=HistoryKind.TRADE) | Q(kind=HistoryKind.LEDGER)
    for source in history_sources():
        for kind, statuses in source.completed_statuses.items():
            condition |= Q(exchange=source.exchange, kind=kind, status__in=sorted(statuses))
    for source in history_sources():
        if source.ledger_repeats:
            condition &= ~Q(
                exchange=source.exchange, kind=HistoryKind.LEDGER, entry_type__in=sorted(source.ledger_repeats)
            )
    return condition


def export_jobs_visible(*, tenant, user, membership: Membership | None) -> QuerySet:
    """What the person may see and download now: staff, every job of the tenant; a member, the jobs they requested
    of their own history; someone no longer a member, nothing.

    Decided by the current role, not by who requested a job: an accountant who is demoted or removed loses the
    tenant-wide exports they requested at once, not when the files expire.
    """
    jobs = ExportJob.objects.filter(tenant=tenant).select_related("requested_by", "scope_user", "scope_connection")
    if membership is None:
        return jobs.none()
    if is_export_staff(membership):
        return jobs
    return jobs.filter(requested_by=user).filter(
        Q(scope=ExportJob.Scope.USER, scope_user=user)
        | Q(scope=ExportJob.Scope.CONNECTION, scope_connection__user=user)
    )


def connections_exportable(*, tenant, user, membership: Membership | None) -> QuerySet:
    # In the order of the tenant's index (connection_tenant_order), so a page of a large tenant is read, not sorted.
    connections = (
        ExchangeConnection.objects.filter(tenant=tenant)
        .select_related("user")
        .prefetch_related("history_sync_states")
        .order_by("exchange", "created_at", "pk")
    )
    return connections if is_export_staff(membership) else connections.filter(user=user)


PICKER_PAGE = 20  # rows a picker or the synced-history list shows at a time


def connections_matching(connections: QuerySet, *, query: str) -> QuerySet:
    """The connections whose user's email holds ``query`` (or whose exchange is it)."""
    query = query.strip()
    if not query:
        return connections
    return connections.filter(Q(user__email__icontains=query) | Q(exchange__iexact=query))


def users_matching(*, tenant, query: str) -> QuerySet:
    """The tenant's users whose email holds ``query``, by email."""
    users = User.objects.filter(memberships__tenant=tenant).order_by("email", "pk")
    query = query.strip()
    return users.filter(email__icontains=query) if query else users


def page_of(queryset: QuerySet, *, page: int, size: int = PICKER_PAGE) -> tuple[list, bool]:
    """One page of rows and whether another follows, read as one more row than the page: never a count."""
    start = (page - 1) * size
    rows = list(queryset[start : start + size + 1])
    return rows[:size], len(rows) > size


def last_synced_at(coverage: list[dict]):
    return max((row["last_synced_at"] for row in coverage if row["last_synced_at"]), default=None)


def configured_history_start(now=None) -> datetime:
    """What the portal means to hold: EXPORTS_HISTORY_DAYS back from now, not before EXPORTS_HISTORY_START."""
    now = now or django_timezone.now()
    start = now - timedelta(days=settings.EXPORTS_HISTORY_DAYS)
    if settings.EXPORTS_HISTORY_START:
        start = max(start, datetime.combine(settings.EXPORTS_HISTORY_START, time.min, tzinfo=UTC))
    return start


def history_start(*, source: HistorySource, kind: str, now=None) -> datetime:
    """How far back a first sync walks: the configured start, or what the exchange keeps of this kind if that is
    less (KuCoin: a year of ledgers; OKX: 3 months of fills and bills)."""
    now = now or django_timezone.now()
    start = configured_history_start(now)
    kept = source.kept_for.get(kind)
    return max(start, now - kept) if kept else start


def sync_coverage(connection: ExchangeConnection, *, now=None) -> list[dict]:
    """Per kind of history the exchange has: the range held complete (from, to), the rows synced, whether a pass is
    under way or failed, and ``gap_before``: the held range starts after the configured history start (the exchange
    keeps or lists less, or no sync has finished), so an export reaching before ``covered_from`` misses rows."""
    source = {item.exchange: item for item in history_sources()}.get(connection.exchange)
    if source is None:
        return []
    wanted = configured_history_start(now)
    states = {state.kind: state for state in connection.history_sync_states.all()}
    rows = []
    for kind in source.kinds:
        state = states.get(kind)
        covered_from = state.covered_from if state else None
        kept = source.kept_for.get(kind)
        rows.append(
            {
                "kind": kind,
                "label": HistoryKind(kind).label,
                "rows": state.rows_stored if state else 0,
                "covered_from": covered_from,
                "covered_to": state.covered_to if state else None,
                "in_progress": bool(state and state.resume_cursor),
                "error": state.last_error if state else "",
                "last_synced_at": state.last_synced_at if state else None,
                # A minute of slack: the start moves with the clock between the sync and now.
                "gap_before": covered_from is None or covered_from > wanted + timedelta(minutes=1),
                "kept_days": kept.days if kept else None,
            }
        )
    return rows


def history_range(entries: QuerySet) -> tuple[datetime | None, datetime | None]:
    """The oldest and newest moment of the entries."""
    bounds = entries.order_by().aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    return bounds["first"], bounds["last"]


def synced_since(connections: QuerySet) -> datetime | None:
    """The oldest moment any of these connections holds complete: one aggregate, whatever the tenant's size."""
    return SyncState.objects.filter(connection__in=connections.order_by().values("pk")).aggregate(
        start=Min("covered_from")
    )["start"]
