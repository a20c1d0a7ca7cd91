"""Workers follow sent withdrawals. No task ever sends one: the exchange's codes never reach a task."""

from celery import shared_task

from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable

from . import selectors, services


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def withdrawal_poll(withdrawal_id: int) -> None:
    """Status of one withdrawal, or reconciliation of an unknown one; safe to run twice (redelivery)."""
    try:
        services.withdrawal_refresh_status(withdrawal_id=withdrawal_id)
    except (ExchangeUnavailable, ExchangeAPIError, services.WithdrawalError):
        pass  # the next sweep asks again


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def withdrawal_poll_open() -> None:
    """Beat: one poll per open withdrawal."""
    for withdrawal_id in selectors.withdrawals_to_poll():
        withdrawal_poll.delay(withdrawal_id)
