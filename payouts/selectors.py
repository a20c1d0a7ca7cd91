"""Reads of payouts: a tenant's batches with their counts, and the rows an accountant's file holds."""

from django.db.models import Count, Q, QuerySet

from .models import Payout, PayoutBatch


def with_status_counts(batches: QuerySet) -> QuerySet:
    """Each batch with its number of payouts (``payouts_total``) and of each status (``payouts_<status>``)."""
    counts = {
        f"payouts_{status}": Count("payouts", filter=Q(payouts__status=status)) for status in Payout.Status.values
    }
    return batches.select_related("created_by").annotate(payouts_total=Count("payouts"), **counts)


def payout_batches(*, tenant) -> QuerySet:
    return with_status_counts(PayoutBatch.objects.filter(tenant=tenant))


def payouts_of(*, tenant, batch_ids=None) -> QuerySet:
    payouts = Payout.objects.filter(tenant=tenant).select_related("batch", "user", "connection", "deposit")
    if batch_ids is not None:
        payouts = payouts.filter(batch_id__in=batch_ids)
    return payouts.order_by("batch_id", "id")
