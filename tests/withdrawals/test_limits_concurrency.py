"""Limits hold when two different withdrawals of one account go at the same moment."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from connectors.exchanges import withdrawal_hooks
from tests.withdrawals.helpers import connection_of, withdrawal_of
from withdrawals.models import FactorRequest, Withdrawal, WithdrawalLimit
from withdrawals.services.errors import WithdrawalError
from withdrawals.services.limits import check_broker_limits, check_exchange_rate_limit

pytestmark = pytest.mark.django_db(transaction=True)


def race(step, drafts) -> list[str]:
    """Run ``step(draft)`` for each draft at the same moment, each in its own transaction held open a while;
    returns "passed" or "refused" per draft."""
    barrier = threading.Barrier(len(drafts))
    outcomes = []

    def run(draft):
        try:
            barrier.wait()
            with transaction.atomic():
                step(draft)
                time.sleep(0.3)  # hold the transaction open: the other one must wait, then see this one
            outcomes.append("passed")
        except WithdrawalError:
            outcomes.append("refused")
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=(draft,)) for draft in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_withdrawals_cannot_both_spend_the_last_allowance(tenant, member):
    connection = connection_of(member, tenant)
    WithdrawalLimit.objects.create(tenant=tenant, scope="tenant", window_hours=24, max_usdt=Decimal("1000"))
    drafts = [
        withdrawal_of(
            connection,
            state="previewed",
            exchange_withdrawal_id="",
            submit_started_at=None,
            total_debit=Decimal("600"),
            price_usdt=Decimal("1"),
        )
        for _ in range(2)
    ]

    def send(draft):
        check_broker_limits(withdrawal=draft, value_usdt=Decimal("600"), lock=True)
        Withdrawal.objects.filter(pk=draft.pk).update(state="submitting", submit_started_at=timezone.now())

    assert race(send, drafts) == ["passed", "refused"]


def test_two_uid_withdrawals_cannot_both_take_the_last_slot_of_the_exchange_limit(tenant, member):
    connection = connection_of(member, tenant)
    drafts = [
        withdrawal_of(connection, state="stepped_up", exchange_withdrawal_id="", withdraw_type="UID") for _ in range(2)
    ]
    FactorRequest.objects.bulk_create(
        FactorRequest(
            tenant=tenant, connection=connection, withdrawal=drafts[0], withdraw_type="UID", requested_at=timezone.now()
        )
        for _ in range(2)
    )

    def request_codes(draft):
        check_exchange_rate_limit(withdrawal=draft, hooks=withdrawal_hooks("kucoin"), now=timezone.now(), lock=True)
        FactorRequest.objects.create(
            tenant=tenant, connection=connection, withdrawal=draft, withdraw_type="UID", requested_at=timezone.now()
        )

    assert race(request_codes, drafts) == ["passed", "refused"]
