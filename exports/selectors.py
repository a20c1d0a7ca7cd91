"""Reads: the history an export covers, the jobs a person may see, the connections they may export."""

from datetime import datetime, time, timedelta, timezone

from django.db.models import Max, Q, QuerySet

from broker_portal.models import Membership
from connectors.exchanges import history_sources
from connectors.models import ExchangeConnection

from .formats import FORMATS
from .models import ExportJob, HistoryEntry, HistoryKind

STAFF_ROLES = (Membership.Role.BROKER_ADMIN, Membership.Role.ACCOUNTANT)


def is_export_staff(membership: Membership | None) -> bool:
    return membership is not None and membership.role in STAFF_ROLES


def day_bounds(date_from, date_to) -> tuple[datetime, datetime]:
    """Whole UTC days, both ends included."""
    start = datetime.combine(date_from, time.min, tzinfo=timezone.utc)
    return start, datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=timezone.utc)


def history_for_export(*, job: ExportJob) -> QuerySet:
    start, end = day_bounds(job.date_from, job.date_to)
    entries = HistoryEntry.objects.filter(tenant_id=job.tenant_id, kind__in=job.kinds, occurred_at__gte=start,
                                          occurred_at__lt=end)
    if job.scope == ExportJob.Scope.USER:
        entries = entries.filter(user_id=job.scope_user_id)
    elif job.scope == ExportJob.Scope.CONNECTION:
        entries = entries.filter(connection_id=job.scope_connection_id)
    if FORMATS[job.format].completed_movements_only:
        # In the query, so the Python writer and PostgreSQL's COPY export the same rows.
        entries = entries.filter(completed_movements())
    return entries.order_by("occurred_at", "id")


def completed_movements() -> Q:
    """Trades and ledger entries, and the deposits and withdrawals in a status where their exchange says the money
    moved: not failed, cancelled or still on the way."""
    condition = ~Q(kind__in=[HistoryKind.DEPOSIT, HistoryKind.WITHDRAWAL])
    for source in history_sources():
        for kind, statuses in source.completed_statuses.items():
            condition |= Q(exchange=source.exchange, kind=kind, status__in=sorted(statuses))
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
    connections = (ExchangeConnection.objects.filter(tenant=tenant).select_related("user")
                   .annotate(last_synced_at=Max("history_sync_states__last_synced_at"))
                   .order_by("user__email", "exchange", "pk"))
    return connections if is_export_staff(membership) else connections.filter(user=user)
