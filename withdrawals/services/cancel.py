"""Cancelling a withdrawal before it is sent: nothing reaches the exchange after it."""

from django.db import transaction

from ..models import Withdrawal
from .errors import WithdrawalError
from .rows import audit, lock_withdrawal

State = Withdrawal.State


def withdrawal_cancel(*, withdrawal: Withdrawal, request=None) -> Withdrawal:
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        if locked.state not in Withdrawal.EDITABLE:
            raise WithdrawalError("A sent withdrawal cannot be cancelled here.")
        locked.state, locked.exchange_transaction_id = State.CANCELLED, ""
        locked.save(update_fields=["state", "exchange_transaction_id", "updated_at"])
        audit(locked, "cancelled", request)
    return locked
