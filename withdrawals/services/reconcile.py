"""Step 7, following a sent withdrawal: its status from the exchange until it ends, and an ``unknown`` one (or a
``submitting`` that never came back) resolved from the exchange's history only, never by sending it again."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from broker_portal.enqueue import enqueue_on_commit
from connectors.base.withdrawals import ExchangeWithdrawals
from webhooks.events import withdrawal_data
from webhooks.services import event_record

from ..models import Withdrawal
from . import exchange
from .rows import audit, lock_withdrawal

State = Withdrawal.State


def stale_submit_after() -> timedelta:
    return timedelta(seconds=settings.WITHDRAWAL_STALE_SUBMIT_SECONDS)


def poll_after_commit(withdrawal_id: int, countdown: int) -> None:
    """The worker asks the exchange about this withdrawal once the transaction that wrote it has committed."""
    enqueue_on_commit("withdrawals.tasks.withdrawal_poll", withdrawal_id, countdown=countdown)


def _record_submitted(withdrawal: Withdrawal) -> None:
    event_record(
        tenant=withdrawal.tenant_id,
        type="withdrawal.submitted",
        payload=withdrawal_data(withdrawal, exchange_withdrawal_id=withdrawal.exchange_withdrawal_id),
    )


def transaction_hash(withdrawal: Withdrawal) -> str | None:
    """The chain's hash, where the synced history of the exchange's withdrawals has shown it."""
    from exports.models import HistoryEntry

    return (
        HistoryEntry.objects.filter(
            connection_id=withdrawal.connection_id, kind="withdrawal", external_id=withdrawal.exchange_withdrawal_id
        )
        .exclude(txid="")
        .values_list("txid", flat=True)
        .first()
    )


def mark_processing(withdrawal: Withdrawal, exchange_id: str) -> None:
    withdrawal.state, withdrawal.exchange_withdrawal_id = State.PROCESSING, exchange_id
    withdrawal.submitted_at, withdrawal.last_error = timezone.now(), ""
    withdrawal.exchange_transaction_id = ""  # spent
    withdrawal.save()
    _record_submitted(withdrawal)
    poll_after_commit(withdrawal.pk, countdown=5)


def withdrawal_reconcile(*, withdrawal_id: int) -> Withdrawal:
    """Resolve ``unknown`` (or a ``submitting`` that never came back) from the exchange's history only."""
    withdrawal = Withdrawal.objects.select_related("tenant", "user", "connection").get(pk=withdrawal_id)
    started = withdrawal.submit_started_at
    stale = (
        withdrawal.state == State.SUBMITTING and started is not None and started < timezone.now() - stale_submit_after()
    )
    if withdrawal.state != State.UNKNOWN and not stale:
        return withdrawal
    api, hooks, _ = exchange.exchange_context(withdrawal.connection)
    candidates = hooks.sent_candidates(api, withdrawal.connection, withdrawal)
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal_id)
        if locked.state not in (State.UNKNOWN, State.SUBMITTING):
            return locked
        found = _first_unrecorded(locked, candidates)
        expires_after = hooks.lost_submit_expires_after()
        if found:
            mark_processing(locked, found)
            audit(locked, "reconciled", found=True, exchange_withdrawal_id=found)
        elif (
            expires_after is not None
            and locked.submit_started_at is not None
            and locked.submit_started_at + expires_after < timezone.now()
        ):
            # The exchange can no longer execute that request: the user may verify and send again.
            _reset_to_verify(locked, hooks)
            audit(locked, "reconciled", found=False)
        else:
            # Not in the history yet, and the exchange may still execute it: keep checking, never send again.
            was_submitting = locked.state == State.SUBMITTING
            locked.state, locked.last_polled_at = State.UNKNOWN, timezone.now()
            locked.last_error = (
                "The exchange's history does not show this withdrawal yet; we keep checking. Do not send it again."
            )
            locked.save(update_fields=["state", "last_polled_at", "last_error", "updated_at"])
            if was_submitting:
                audit(locked, "unknown", error="stale")
    return locked


def _first_unrecorded(withdrawal: Withdrawal, candidates: list[str]) -> str | None:
    """The first candidate no other row of this connection already stands for (one row per exchange id)."""
    recorded = set(
        Withdrawal.objects.filter(connection_id=withdrawal.connection_id, exchange_withdrawal_id__in=candidates)
        .exclude(pk=withdrawal.pk)
        .values_list("exchange_withdrawal_id", flat=True)
    )
    return next((candidate for candidate in candidates if candidate not in recorded), None)


def _reset_to_verify(withdrawal: Withdrawal, hooks: ExchangeWithdrawals) -> None:
    withdrawal.state = State.PREVIEWED
    withdrawal.exchange_transaction_id, withdrawal.factors_all, withdrawal.factors_sent = "", [], []
    withdrawal.stepped_up_at = None
    withdrawal.last_error = "The exchange never executed this withdrawal. Review it and send it again."
    withdrawal.save()


def withdrawal_refresh_status(*, withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_related("tenant", "user", "connection").get(pk=withdrawal_id)
    if withdrawal.state in (State.UNKNOWN, State.SUBMITTING):
        return withdrawal_reconcile(withdrawal_id=withdrawal_id)
    if withdrawal.state != State.PROCESSING:
        return withdrawal
    api, hooks, _ = exchange.exchange_context(withdrawal.connection)
    status = hooks.status(api, withdrawal.connection, withdrawal)
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal_id)
        if locked.state != State.PROCESSING:
            return locked
        locked.exchange_status, locked.last_polled_at = status.raw, timezone.now()
        locked.transaction_hash = status.transaction_hash or locked.transaction_hash
        if status.final:
            locked.state = State.SUCCEEDED if status.succeeded else State.FAILED
            locked.completed_at = timezone.now()
            locked.save()
            audit(locked, "succeeded" if status.succeeded else "failed", exchange_status=status.raw)
            event_record(
                tenant=locked.tenant_id,
                type="withdrawal.status_changed",
                payload=withdrawal_data(
                    locked,
                    state=locked.state,
                    previous_state=State.PROCESSING,
                    exchange_status=status.raw,
                    exchange_withdrawal_id=locked.exchange_withdrawal_id,
                    transaction_hash=transaction_hash(locked),
                ),
            )
        else:
            locked.save(update_fields=["exchange_status", "last_polled_at", "transaction_hash", "updated_at"])
    return locked
