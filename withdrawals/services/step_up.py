"""Step 3, the portal's step-up: the user confirms with their authenticator app before anything reaches the
exchange."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Withdrawal
from .errors import WithdrawalError
from .quote import quote_is_fresh
from .rows import audit, lock_withdrawal

State = Withdrawal.State


def step_up_ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "WITHDRAWAL_STEP_UP_TTL_SECONDS", 600))


def withdrawal_step_up(*, withdrawal: Withdrawal, authenticated_at: datetime, request=None) -> Withdrawal:
    """Record that the user re-authenticated with MFA for this withdrawal."""
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        if locked.state not in (State.PREVIEWED, State.STEPPED_UP, State.FACTORS_REQUESTED):
            raise WithdrawalError("Review the preview first.")
        if not quote_is_fresh(locked):
            raise WithdrawalError("The preview expired; review the fees again.")
        locked.stepped_up_at = authenticated_at
        if locked.state == State.PREVIEWED:
            locked.state = State.STEPPED_UP
        locked.save(update_fields=["stepped_up_at", "state", "updated_at"])
        audit(locked, "stepped_up", request)
    rotate_session(request)
    return locked


def rotate_session(request) -> None:
    """A new session key after the step-up, so a key seen before it does not carry the stepped-up session
    (ASVS V3.2.1: a new session token on re-authentication). A token-only API call has no session to rotate."""
    session = getattr(request, "session", None) if request is not None else None
    if session is not None and session.session_key:
        session.cycle_key()


def withdrawal_step_up_refused(*, withdrawal: Withdrawal, request=None) -> None:
    """Record a wrong portal MFA code at the step-up; nothing about the withdrawal changes."""
    audit(withdrawal, "step_up_refused", request, reason="wrong_mfa_code")


def step_up_is_fresh(withdrawal: Withdrawal) -> bool:
    return withdrawal.stepped_up_at is not None and withdrawal.stepped_up_at > timezone.now() - step_up_ttl()
