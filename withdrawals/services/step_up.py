"""Step 3, the portal's step-up: the user confirms with their authenticator app before anything reaches the
exchange. The pages and the API both step up through ``withdrawal_step_up_with_code``, so a wrong, replayed or
locked-out code is refused the same way, with the same words, wherever it is entered."""

from datetime import datetime, timedelta

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from broker_portal.models import User
from broker_portal.ratelimits import mfa_code_attempt

from ..models import Withdrawal
from .errors import WithdrawalError
from .quote import quote_is_fresh
from .rows import audit, lock_withdrawal

State = Withdrawal.State


class StepUpCodeRefused(WithdrawalError):
    """The authenticator code was wrong, already used, or the user has no authenticator: enter another."""


CODE_REFUSED = "The authenticator code is not valid (set up two-factor authentication first)."


def step_up_ttl() -> timedelta:
    return timedelta(seconds=settings.WITHDRAWAL_STEP_UP_TTL_SECONDS)


def portal_mfa_code_valid(user: User, code: str) -> bool:
    """The code of the user's authenticator app; allauth takes each code once, so a replayed one is not valid."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return authenticator is not None and TOTP(authenticator).validate_code(code)


def withdrawal_step_up_with_code(*, withdrawal: Withdrawal, code: str, request) -> Withdrawal:
    """Step up with the owner's authenticator code, under the sign-in forms' lock-out: over it, RateLimited and
    the code is not even tried. A refused code is audited (without the code) and changes nothing."""
    clear_failures = mfa_code_attempt(request, withdrawal.user)
    if not portal_mfa_code_valid(withdrawal.user, code):
        withdrawal_step_up_refused(withdrawal=withdrawal, request=request)
        raise StepUpCodeRefused(CODE_REFUSED)
    clear_failures()
    return withdrawal_step_up(withdrawal=withdrawal, authenticated_at=timezone.now(), request=request)


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
