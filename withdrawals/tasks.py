"""Workers follow sent withdrawals. No task ever sends one: the exchange's codes never reach a task."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from broker_portal.selectors import broker_admin_emails
from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable

from . import selectors
from .models import Withdrawal
from .services.errors import WithdrawalError
from .services.reconcile import withdrawal_refresh_status


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def withdrawal_poll(withdrawal_id: int) -> None:
    """Status of one withdrawal, or reconciliation of an unknown one; safe to run twice (redelivery)."""
    try:
        withdrawal_refresh_status(withdrawal_id=withdrawal_id)
    except Withdrawal.DoesNotExist:
        pass  # a message that outlived its withdrawal (its tenant or user deleted): nothing left to follow
    except (ExchangeUnavailable, ExchangeAPIError, WithdrawalError):
        pass  # the next sweep asks again


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def withdrawal_poll_open() -> None:
    """Beat: one poll per open withdrawal."""
    for withdrawal_id in selectors.withdrawals_to_poll():
        withdrawal_poll.delay(withdrawal_id)


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=45,
    max_retries=5,
    default_retry_delay=60,
)
def notify_broker_admins_of_limit_refusal(self, withdrawal_id: int, limit_id: int, value_usdt: str) -> None:
    """E-mail the tenant's broker admins that one of their limits refused a withdrawal (no address, no secret)."""
    from .models import Withdrawal, WithdrawalLimit

    withdrawal = Withdrawal.objects.select_related("tenant", "user", "connection").filter(pk=withdrawal_id).first()
    limit = WithdrawalLimit.objects.filter(pk=limit_id).first()
    if withdrawal is None or limit is None:
        return
    admins = broker_admin_emails(tenant_id=withdrawal.tenant_id)
    if not admins:
        return
    context = {
        "withdrawal": withdrawal,
        "limit": limit,
        "value_usdt": value_usdt,
        "tenant": withdrawal.tenant,
        "user": withdrawal.user,
    }
    subject = render_to_string("withdrawals/email/limit_refusal_subject.txt", context).strip()
    body = render_to_string("withdrawals/email/limit_refusal_message.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, admins)
    except OSError as error:
        raise self.retry(exc=error)
