"""The limits a withdrawal must pass: the exchange's own on how often, and the broker admins' caps in USDT."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone

from broker_portal.enqueue import enqueue_on_commit
from connectors.base.withdrawals import ExchangeWithdrawals
from connectors.models import ExchangeConnection
from webhooks.events import withdrawal_data
from webhooks.services import event_record

from ..models import FactorRequest, Withdrawal, WithdrawalLimit
from .errors import WithdrawalError
from .rows import audit

State = Withdrawal.State

# States whose amount counts against the broker's limits.
COUNTED_STATES = (State.SUBMITTING, State.UNKNOWN, State.PROCESSING, State.SUCCEEDED)


class BrokerLimitExceeded(WithdrawalError):
    """A broker admin's cap refused the withdrawal; carries what the audit and the admins' alert say."""

    def __init__(
        self, message: str, *, withdrawal: Withdrawal, limit: WithdrawalLimit, used_usdt: Decimal, value_usdt: Decimal
    ):
        super().__init__(message)
        self.withdrawal, self.limit, self.used_usdt, self.value_usdt = withdrawal, limit, used_usdt, value_usdt


def check_exchange_rate_limit(
    *, withdrawal: Withdrawal, hooks: ExchangeWithdrawals, now: datetime, lock: bool = False
) -> None:
    """The exchange's own limits on UID/MAIL/PHONE withdrawals, checked before calling it.

    With ``lock`` the connection's row is locked until the transaction ends, so withdrawals of one account
    are counted one after the other."""
    if withdrawal.withdraw_type not in hooks.rate_limited_types:
        return
    if lock:
        ExchangeConnection.objects.select_for_update().filter(pk=withdrawal.connection_id).exists()
    requests = FactorRequest.objects.filter(
        connection=withdrawal.connection, withdraw_type__in=hooks.rate_limited_types
    )
    for window, limit in hooks.rate_limits:
        recent = list(
            requests.filter(requested_at__gt=now - window)
            .order_by("requested_at")
            .values_list("requested_at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            retry_at = recent[0] + window
            raise WithdrawalError(
                f"The exchange allows {limit} such withdrawals per {_duration(window)}. "
                f"Try again at {retry_at:%Y-%m-%d %H:%M:%S} UTC.",
                retry_at=retry_at,
            )


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    return f"{seconds // 3600} hours" if seconds >= 3600 else f"{seconds} seconds"


def check_broker_limits(
    *, withdrawal: Withdrawal, value_usdt: Decimal, now: datetime | None = None, lock: bool = False
) -> None:
    """The broker admin's caps in USDT over rolling windows, per user and for the tenant.

    With ``lock`` (inside the transaction that marks a withdrawal as sent) the tenant's limit rows are locked,
    so two different withdrawals cannot both pass on the same remaining allowance."""
    now = now or timezone.now()
    value = ExpressionWrapper(
        F("total_debit") * F("price_usdt"), output_field=DecimalField(max_digits=60, decimal_places=18)
    )
    limits = WithdrawalLimit.objects.filter(tenant_id=withdrawal.tenant_id).order_by("pk")
    for limit in limits.select_for_update() if lock else limits:
        counted = Withdrawal.objects.filter(
            tenant_id=withdrawal.tenant_id,
            state__in=COUNTED_STATES,
            submit_started_at__gt=now - timedelta(hours=limit.window_hours),
        )
        if limit.scope == WithdrawalLimit.Scope.PER_USER:
            counted = counted.filter(user_id=withdrawal.user_id)
        used = counted.exclude(pk=withdrawal.pk).aggregate(total=Sum(value))["total"] or Decimal(0)
        if used + value_usdt > limit.max_usdt:
            who = "your" if limit.scope == WithdrawalLimit.Scope.PER_USER else "this broker's"
            left = max(limit.max_usdt - used, Decimal(0)).quantize(Decimal("0.01"))
            raise BrokerLimitExceeded(
                f"This exceeds {who} withdrawal limit of {limit.max_usdt} USDT per "
                f"{limit.window_hours} hours ({left} USDT left).",
                withdrawal=withdrawal,
                limit=limit,
                used_usdt=used,
                value_usdt=value_usdt,
            )


@contextmanager
def recording_limit_refusals(request=None) -> Iterator[None]:
    """Audit a limit refusal and alert the tenant's broker admins. Outermost, so that a refusal met inside a
    transaction (the send's) is recorded after that transaction has rolled back, not rolled back with it."""
    try:
        yield
    except BrokerLimitExceeded as refusal:
        withdrawal_record_limit_refusal(refusal=refusal, request=request)
        raise


def withdrawal_record_limit_refusal(*, refusal: BrokerLimitExceeded, request=None) -> None:
    limit = refusal.limit
    with transaction.atomic():
        audit(
            refusal.withdrawal,
            "refused_by_limit",
            request,
            limit_id=limit.pk,
            scope=limit.scope,
            max_usdt=str(limit.max_usdt),
            window_hours=limit.window_hours,
            used_usdt=str(refusal.used_usdt),
            value_usdt=str(refusal.value_usdt),
        )
        event_record(
            tenant=refusal.withdrawal.tenant_id,
            type="withdrawal.limit_refused",
            payload=withdrawal_data(
                refusal.withdrawal,
                limit_id=limit.pk,
                scope=limit.scope,
                max_usdt=str(limit.max_usdt),
                window_hours=limit.window_hours,
                value_usdt=str(refusal.value_usdt),
            ),
        )
        enqueue_on_commit(
            "withdrawals.tasks.notify_broker_admins_of_limit_refusal",
            refusal.withdrawal.pk,
            limit.pk,
            str(refusal.value_usdt),
        )
