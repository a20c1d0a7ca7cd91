"""Reads: the history an export covers, the jobs a person may see, the connections they may export."""

from datetime import datetime, time, timedelta, timezone

from django.db.models import Max, QuerySet

from broker_portal.models import Membership
from connectors.models import ExchangeConnection

from .models import ExportJob, HistoryEntry

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
    return entries.order_by("occurred_at", "id")


def export_jobs_visible(*, tenant, user, membership: Membership | None) -> QuerySet:
    jobs = ExportJob.objects.filter(tenant=tenant).select_related("requested_by", "scope_user", "scope_connection")
    return jobs if is_export_staff(membership) else jobs.filter(requested_by=user)


def connections_exportable(*, tenant, user, membership: Membership | None) -> QuerySet:
    connections = (ExchangeConnection.objects.filter(tenant=tenant).select_related("user")
                   .annotate(last_synced_at=Max("history_sync_states__last_synced_at"))
                   .order_by("user__email", "exchange", "pk"))
    return connections if is_export_staff(membership) else connections.filter(user=user)
