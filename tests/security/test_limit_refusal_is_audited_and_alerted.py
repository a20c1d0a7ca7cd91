"""A withdrawal refused by a broker limit is audited and its tenant's broker admins are e-mailed by a real
worker on the Redis broker, whether the preview or the send meets the limit."""

import time
import uuid
from decimal import Decimal

import pytest

from broker_portal.models import AuditEvent, Membership
from tests.helpers import make_member
from tests.withdrawals.helpers import codes_for, connect_kucoin, details, ready_to_submit
from withdrawals.models import WithdrawalLimit
from withdrawals.services.details import withdrawal_save_details
from withdrawals.services.errors import WithdrawalError
from withdrawals.services.quote import withdrawal_preview
from withdrawals.services.submit import withdrawal_submit

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_mail(mailoutbox, count: int) -> list:
    for _ in range(100):
        if len(mailoutbox) >= count:
            break
        time.sleep(0.1)
    return mailoutbox


def test_a_send_over_the_limit_is_audited_and_the_broker_admins_are_told(
    portal, sandbox_accounts, celery_worker, mailoutbox
):
    admins = [
        make_member(portal["tenant"], f"limits-{n}@alpha.example", Membership.Role.BROKER_ADMIN) for n in range(2)
    ]
    make_member(portal["tenant"], "accountant@alpha.example", Membership.Role.ACCOUNTANT)
    withdrawal = ready_to_submit(portal, connect_kucoin(portal, sandbox_accounts))
    # The broker admin lowers the cap after the preview: the send itself meets it.
    WithdrawalLimit.objects.create(tenant=portal["tenant"], scope="per_user", window_hours=24, max_usdt=Decimal("1"))
    with pytest.raises(WithdrawalError, match="withdrawal limit of 1"):
        withdrawal_submit(
            withdrawal_id=withdrawal.pk,
            tenant=portal["tenant"],
            user=portal["user"],
            codes=codes_for(portal, sandbox_accounts),
        )
    event = AuditEvent.objects.get(action="withdrawal.refused_by_limit")
    assert event.tenant == portal["tenant"] and event.actor == portal["user"] and event.target_id == str(withdrawal.pk)
    assert event.details["max_usdt"] == "1.00" and event.details["scope"] == "per_user"
    withdrawal.refresh_from_db()
    assert withdrawal.state == "factors_requested"  # nothing was sent
    sent = wait_for_mail(mailoutbox, 1)
    assert len(sent) == 1 and sorted(sent[0].to) == sorted(admin.email for admin in admins)
    assert "limit" in sent[0].subject.lower() and portal["user"].email in sent[0].body
    assert "KuCoin" in sent[0].body and "1.00 USDT per" in sent[0].body
    assert withdrawal.destination not in sent[0].body


def test_a_preview_over_the_limit_is_audited_and_alerted_too(portal, sandbox_accounts, celery_worker, mailoutbox):
    admin = make_member(portal["tenant"], "limits@alpha.example", Membership.Role.BROKER_ADMIN)
    connection = connect_kucoin(portal, sandbox_accounts)
    WithdrawalLimit.objects.create(tenant=portal["tenant"], scope="tenant", window_hours=24, max_usdt=Decimal("1"))
    draft = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=connection,
        idempotency_key=uuid.uuid4(),
        details=details(),
    )
    with pytest.raises(WithdrawalError, match="this broker's withdrawal limit"):
        withdrawal_preview(withdrawal=draft)
    assert AuditEvent.objects.filter(action="withdrawal.refused_by_limit", target_id=str(draft.pk)).count() == 1
    sent = wait_for_mail(mailoutbox, 1)
    assert len(sent) == 1 and sent[0].to == [admin.email]
