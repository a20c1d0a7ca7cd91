"""Exactly once on PostgreSQL: parallel submits of one draft, and a timeout after the exchange accepted."""

import threading
import time

import pytest
from django.db import connection as db_connection

from connectors.exchanges import withdrawal_hooks
from sandbox.faults import fault_clear, fault_set
from sandbox.models import HistoryRecord
from withdrawals.models import Withdrawal
from withdrawals.services.reconcile import withdrawal_reconcile
from withdrawals.services.submit import withdrawal_submit

from .helpers import codes_for, ready_to_submit, sandbox_btc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counted_submits(monkeypatch):
    """Counts calls of the KuCoin submit hook (each one is a real HTTP call to the sandbox)."""
    hooks = withdrawal_hooks("kucoin")
    calls = []
    original = hooks.submit

    def counting(*args, **kwargs):
        calls.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(hooks, "submit", counting)
    return calls


def exchange_withdrawals(withdrawal) -> int:
    return HistoryRecord.objects.filter(kind="withdrawal", details__remark__contains=withdrawal.reference).count()


def test_twenty_parallel_submits_of_one_draft_make_one_exchange_call(portal, kucoin, sandbox_accounts, counted_submits):
    email = sandbox_accounts["kucoin"]["trader"]["email"]
    before = sandbox_btc(email)
    withdrawal = ready_to_submit(portal, kucoin)
    codes = codes_for(portal, sandbox_accounts)
    barrier = threading.Barrier(20)
    states, errors = [], []

    def submit():
        try:
            barrier.wait()
            states.append(
                withdrawal_submit(
                    withdrawal_id=withdrawal.pk, tenant=portal["tenant"], user=portal["user"], codes=codes
                ).state
            )
        except Exception as error:  # noqa: BLE001 (collected for the assertion)
            errors.append(error)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(counted_submits) == 1
    assert set(states) <= {"submitting", "processing"} and states.count("processing") >= 1
    done = Withdrawal.objects.get(pk=withdrawal.pk)
    assert done.state == "processing"
    assert exchange_withdrawals(done) == 1
    assert before - sandbox_btc(email) == done.total_debit


def test_a_timeout_after_the_exchange_accepted_makes_no_second_withdrawal(
    portal, kucoin, sandbox_accounts, counted_submits, settings
):
    withdrawal = ready_to_submit(portal, kucoin)
    codes = codes_for(portal, sandbox_accounts)
    # The sandbox waits 2 s and then executes; the portal stops listening after 1 s.
    fault_set(exchange="kucoin", endpoint="withdraw", kind="slow", count=1, delay_seconds=2)
    settings.EXCHANGE_HTTP_TIMEOUT = (5, 1)
    try:
        sent = withdrawal_submit(withdrawal_id=withdrawal.pk, tenant=portal["tenant"], user=portal["user"], codes=codes)
        assert sent.state == "unknown"
        # Still executing at the exchange: the history does not show it yet, so it stays unknown.
        assert withdrawal_reconcile(withdrawal_id=withdrawal.pk).state == "unknown"
        # The user clicks again: nothing is sent.
        again = withdrawal_submit(
            withdrawal_id=withdrawal.pk, tenant=portal["tenant"], user=portal["user"], codes=codes
        )
        assert again.state == "unknown"
        for _ in range(50):
            if exchange_withdrawals(withdrawal):
                break
            time.sleep(0.1)
        reconciled = withdrawal_reconcile(withdrawal_id=withdrawal.pk)
    finally:
        fault_clear(exchange="kucoin")
    assert reconciled.state == "processing"
    record = HistoryRecord.objects.get(kind="withdrawal", details__remark__contains=withdrawal.reference)
    assert reconciled.exchange_withdrawal_id == record.txid
    assert len(counted_submits) == 1 and exchange_withdrawals(withdrawal) == 1


def test_unknown_that_never_executed_goes_back_to_review_after_the_exchange_transaction_ended(
    portal, kucoin, sandbox_accounts, settings
):
    withdrawal = ready_to_submit(portal, kucoin)
    fault_set(exchange="kucoin", endpoint="withdraw", kind="500", count=1)
    try:
        sent = withdrawal_submit(
            withdrawal_id=withdrawal.pk,
            tenant=portal["tenant"],
            user=portal["user"],
            codes=codes_for(portal, sandbox_accounts),
        )
    finally:
        fault_clear(exchange="kucoin")
    assert sent.state == "unknown"
    assert withdrawal_reconcile(withdrawal_id=withdrawal.pk).state == "unknown"
    settings.WITHDRAWAL_EXCHANGE_TRANSACTION_TTL_SECONDS = 0
    reviewed = withdrawal_reconcile(withdrawal_id=withdrawal.pk)
    assert reviewed.state == "previewed" and exchange_withdrawals(withdrawal) == 0
    assert reviewed.exchange_transaction_id == "" and reviewed.stepped_up_at is None
