"""Steps 4 and 5: the exchange's security check and its 2FA factors, asked for once per click."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.withdrawals import SecuritySetupRequired

from ..models import FactorRequest, Withdrawal
from . import exchange
from .errors import WithdrawalError
from .limits import check_exchange_rate_limit
from .quote import quote_is_fresh
from .rows import audit, lock_withdrawal
from .step_up import step_up_is_fresh

State = Withdrawal.State


def withdrawal_request_factors(*, withdrawal: Withdrawal, request=None) -> Withdrawal:
    """Ask the exchange to start its 2FA (it sends the codes it sends). Raises SecuritySetupRequired with the
    exchange's link where the user has no 2FA there."""
    api, hooks, _ = exchange.exchange_context(withdrawal.connection)
    if not hooks.needs_factors:
        return withdrawal
    with transaction.atomic():
        # The lock is held over the call so a double click cannot start two verifications (and two e-mails).
        locked = lock_withdrawal(withdrawal.pk)
        if locked.state not in (State.STEPPED_UP, State.FACTORS_REQUESTED):
            raise WithdrawalError("Confirm it is you first.")
        if not step_up_is_fresh(locked):
            raise WithdrawalError("Please confirm it is you again.")
        if not quote_is_fresh(locked):
            raise WithdrawalError("The preview expired; review the fees again.")
        now = timezone.now()
        check_exchange_rate_limit(withdrawal=locked, hooks=hooks, now=now, lock=True)
        refusal: Exception | None = None
        try:
            factors = hooks.request_factors(api, locked.connection, locked)
        except SecuritySetupRequired as setup:
            refusal = setup
            audit(locked, "security_setup_required", request)
        except ExchangeUnavailable as error:
            retry_at = now + timedelta(seconds=error.retry_after) if error.retry_after else None
            refusal = WithdrawalError(
                f"The exchange is not taking this request now ({error})"
                + (f"; try again at {retry_at:%H:%M:%S} UTC." if retry_at else "."),
                retry_at=retry_at,
            )
            audit(
                locked,
                "exchange_unavailable",
                request,
                step="factors",
                error=str(error),
                retry_at=retry_at.isoformat() if retry_at else None,
            )
        except ExchangeAPIError as error:
            refusal = WithdrawalError(f"The exchange refused the withdrawal. {hooks.refusal_message(error)}")
            # Not "code": the audit log drops that key (it is kept for secrets such as 2FA codes).
            audit(locked, "refused", request, error_code=error.code)
        # The exchange counts every attempt it received; so do we (kept even when it refused).
        FactorRequest.objects.create(
            tenant_id=locked.tenant_id,
            connection_id=locked.connection_id,
            withdrawal=locked,
            withdraw_type=locked.withdraw_type,
            requested_at=now,
        )
        if refusal is None:
            locked.exchange_transaction_id = factors.transaction_id
            locked.factors_all, locked.factors_sent = factors.all_factors, factors.sent_factors
            locked.factors_requested_at, locked.state, locked.last_error = now, State.FACTORS_REQUESTED, ""
            locked.save()
            audit(
                locked, "factors_requested", request, all_factors=factors.all_factors, sent_factors=factors.sent_factors
            )
    if refusal is not None:
        raise refusal
    return locked
