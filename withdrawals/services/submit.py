"""Step 6, the submit, exactly once: one request moves the row to ``submitting`` under its lock and commits before
calling the exchange; every other request finds it ``submitting`` or later and sends nothing. Each answer of the
exchange (an id, a refusal, a 429, nothing clear) leaves the row in the state it means."""

import logging
from datetime import timedelta
from typing import NoReturn

from django.db import transaction
from django.utils import timezone

from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.withdrawals import ExchangeWithdrawals

from ..models import Withdrawal
from . import exchange
from .errors import WithdrawalError
from .limits import check_broker_limits, recording_limit_refusals
from .quote import quote_is_fresh, quoted_value_usdt
from .reconcile import mark_processing, poll_after_commit
from .rows import audit, lock_withdrawal
from .step_up import step_up_is_fresh

logger = logging.getLogger(__name__)
State = Withdrawal.State


def _ready_state(hooks: ExchangeWithdrawals) -> str:
    return State.FACTORS_REQUESTED if hooks.needs_factors else State.STEPPED_UP


def withdrawal_submit(*, withdrawal_id: int, tenant, user, codes: dict, request=None) -> Withdrawal:
    """Send the withdrawal once. Concurrent or repeated calls find it ``submitting`` or later and send nothing."""
    with recording_limit_refusals(request), transaction.atomic():
        try:
            locked = (
                Withdrawal.objects.select_for_update()
                .select_related("tenant", "user", "connection")
                .get(pk=withdrawal_id, tenant=tenant, user=user)
            )
        except Withdrawal.DoesNotExist:
            raise WithdrawalError("Not found.") from None
        if locked.state in Withdrawal.OPEN_AT_EXCHANGE or locked.state == State.SUCCEEDED:
            return locked  # already sent or being sent: a double click lands here
        api, hooks, _ = exchange.exchange_context(locked.connection)
        if locked.state != _ready_state(hooks):
            raise WithdrawalError("This withdrawal is not ready to be sent.")
        if not step_up_is_fresh(locked):
            raise WithdrawalError("Please confirm it is you again.")
        if not quote_is_fresh(locked):
            raise WithdrawalError("The preview expired; review the fees again.")
        if hooks.needs_factors:
            missing = {factor for group in locked.factors_all for factor in group} - {k for k, v in codes.items() if v}
            if missing:
                raise WithdrawalError(f"Enter every code ({', '.join(sorted(missing))}).")
        check_broker_limits(withdrawal=locked, value_usdt=quoted_value_usdt(locked), lock=True)
        locked.state, locked.submit_started_at, locked.last_error = State.SUBMITTING, timezone.now(), ""
        locked.save(update_fields=["state", "submit_started_at", "last_error", "updated_at"])
        audit(locked, "submitting", request)
    # Committed: every other request now sees "submitting". Only this one calls the exchange.
    try:
        exchange_id = hooks.submit(api, locked.connection, locked, codes)
    except ExchangeAPIError as error:
        if error.code:
            return _submit_refused(locked, error, request, hooks)
        # No error code of the exchange's (a body that is not its JSON, a success without the withdrawal id):
        # not a clear refusal, so the exchange may have executed it.
        return _submit_unanswered(locked, error, request)
    except ExchangeUnavailable as error:
        if error.retry_after is not None:
            # Only a 429 carries retry_after: the exchange turned the request away unexecuted.
            return _submit_rate_limited(locked, error.retry_after, hooks, request)
        return _submit_unanswered(locked, error, request)
    except Exception as error:  # a timeout, a reset, anything: the exchange may have executed it
        return _submit_unanswered(locked, error, request)
    with transaction.atomic():
        locked = lock_withdrawal(locked.pk)
        mark_processing(locked, exchange_id)
        audit(locked, "submitted", request, exchange_withdrawal_id=exchange_id)
    return locked


def _submit_unanswered(withdrawal: Withdrawal, error: Exception, request) -> Withdrawal:
    """No clear answer: only the exchange's history can tell whether it was executed; nothing is sent again."""
    logger.warning(
        "Withdrawal %s: no clear answer from the exchange (%s); reconciling.", withdrawal.pk, type(error).__name__
    )
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        locked.state, locked.last_error = State.UNKNOWN, "The exchange did not answer clearly; checking its history."
        locked.save(update_fields=["state", "last_error", "updated_at"])
        audit(locked, "unknown", request, error=type(error).__name__)
        poll_after_commit(locked.pk, countdown=5)
    return locked


def _submit_rate_limited(withdrawal: Withdrawal, retry_after: float, hooks: ExchangeWithdrawals, request) -> NoReturn:
    """The exchange asked us to slow down and executed nothing: ready to send again, the same codes step."""
    retry_at = timezone.now() + timedelta(seconds=retry_after)
    message = f"The exchange is limiting requests right now. Try again at {retry_at:%Y-%m-%d %H:%M:%S} UTC."
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        # The preview, the step-up and the exchange's 2FA transaction stay as they were (each still expires).
        locked.state, locked.submit_started_at, locked.last_error = _ready_state(hooks), None, message
        locked.save(update_fields=["state", "submit_started_at", "last_error", "updated_at"])
        audit(locked, "rate_limited", request, retry_at=retry_at.isoformat())
    raise WithdrawalError(message, retry_at=retry_at)


def _submit_refused(withdrawal: Withdrawal, error: ExchangeAPIError, request, hooks: ExchangeWithdrawals) -> Withdrawal:
    """The exchange answered no: nothing was executed. Wrong codes may be entered again."""
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        if error.code in hooks.wrong_code_errors:
            locked.state, message = State.FACTORS_REQUESTED, "A code was not right. Enter the current codes again."
        elif error.code in hooks.restart_verification_errors and "transaction" in str(error).lower():
            locked.state, message = State.STEPPED_UP, "The verification ended. Request new codes."
            locked.exchange_transaction_id, locked.factors_all, locked.factors_sent = "", [], []
        else:
            locked.state, message = State.FAILED, f"The exchange refused the withdrawal. {hooks.refusal_message(error)}"
            locked.completed_at = timezone.now()
        locked.last_error = message[:500]
        locked.save()
        audit(locked, "refused", request, error_code=error.code)
    if locked.state == State.FAILED:
        return locked
    raise WithdrawalError(message)
