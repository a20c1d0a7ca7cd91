"""A withdrawal's row as every step writes it: locked for the write, and audited in the same transaction."""

from typing import Any

from broker_portal.audit import record_audit_event

from ..models import Withdrawal


def audit(withdrawal: Withdrawal, action: str, request=None, **details: Any) -> None:
    record_audit_event(
        tenant=withdrawal.tenant,
        action=f"withdrawal.{action}",
        actor=withdrawal.user,
        target=withdrawal,
        request=request,
        details={"state": withdrawal.state, "exchange": withdrawal.exchange, **details},
    )


def lock_withdrawal(withdrawal_id: int) -> Withdrawal:
    return Withdrawal.objects.select_for_update().select_related("tenant", "user", "connection").get(pk=withdrawal_id)
