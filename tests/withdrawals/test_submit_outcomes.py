"""What each answer of the exchange to the submit (and to the factors request) leaves behind, and how an
unanswered submit is reconciled; the exchange is replaced by hooks that answer as told (no network)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from broker_portal.models import AuditEvent
from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.withdrawals import ExchangeStatus
from connectors.kraken.withdrawals import KrakenWithdrawals
from connectors.kucoin.withdrawals import KuCoinWithdrawals
from tests.withdrawals.helpers import connection_of, ready_kucoin_withdrawal, submit, withdrawal_of
from withdrawals.models import Withdrawal
from withdrawals.services.errors import WithdrawalError
from withdrawals.services.factors import withdrawal_request_factors
from withdrawals.services.reconcile import withdrawal_reconcile

pytestmark = pytest.mark.django_db


@pytest.fixture
def exchange(monkeypatch):
    """Installs the given hooks as the exchange of every connection."""

    def install(hooks):
        monkeypatch.setattr(
            "withdrawals.services.exchange.exchange_context", lambda connection: (object(), hooks, None)
        )
        return hooks

    return install


def answering(error):
    def submit_hook(api, connection, withdrawal, codes):
        raise error

    return submit_hook


def audit_details(withdrawal, action):
    return AuditEvent.objects.get(target_id=str(withdrawal.pk), action=f"withdrawal.{action}").details


# --- the submit's answer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ExchangeAPIError("KuCoin did not return a withdrawal id.", code=""),  # success code, no id
        ExchangeAPIError("HTTP 200", code=""),  # a body that is not the exchange's JSON
    ],
)
def test_an_answer_that_is_no_clear_refusal_is_checked_against_the_history(tenant, member, exchange, error):
    hooks = exchange(KuCoinWithdrawals())
    hooks.submit = answering(error)
    withdrawal = ready_kucoin_withdrawal(tenant, member)
    sent = submit(withdrawal)
    assert sent.state == "unknown" and sent.completed_at is None
    assert Withdrawal.objects.get(pk=withdrawal.pk).state == "unknown"


def test_a_refusal_with_the_exchanges_code_fails_and_the_audit_keeps_the_code(tenant, member, exchange):
    hooks = exchange(KuCoinWithdrawals())
    hooks.submit = answering(ExchangeAPIError("The withdrawal address is not in the address book.", code="260325"))
    withdrawal = ready_kucoin_withdrawal(tenant, member)
    assert submit(withdrawal).state == "failed"
    assert audit_details(withdrawal, "refused")["error_code"] == "260325"


def test_a_rate_limited_submit_can_be_sent_again_after_the_time_the_exchange_gave(tenant, member, exchange):
    hooks = exchange(KuCoinWithdrawals())
    hooks.submit = answering(ExchangeUnavailable("The exchange asks us to slow down.", retry_after=30))
    withdrawal = ready_kucoin_withdrawal(tenant, member)
    with pytest.raises(WithdrawalError, match="Try again at") as refused:
        submit(withdrawal)
    assert timedelta(seconds=25) < refused.value.retry_at - timezone.now() <= timedelta(seconds=30)
    kept = Withdrawal.objects.get(pk=withdrawal.pk)
    # Nothing was executed: the same codes step, with the exchange's transaction, the preview and the step-up.
    assert kept.state == "factors_requested" and kept.submit_started_at is None
    assert kept.exchange_transaction_id == "tx-1" and kept.factors_all == [["GAV"]]
    assert kept.stepped_up_at == withdrawal.stepped_up_at and kept.quote_expires_at == withdrawal.quote_expires_at
    assert AuditEvent.objects.filter(target_id=str(withdrawal.pk), action="withdrawal.rate_limited").exists()

    hooks.submit = lambda api, connection, withdrawal, codes: "W-1"
    assert submit(withdrawal).state == "processing"


def test_a_submit_without_an_answer_is_unknown(tenant, member, exchange):
    hooks = exchange(KuCoinWithdrawals())
    hooks.submit = answering(ExchangeUnavailable("The exchange did not answer in time."))
    assert submit(ready_kucoin_withdrawal(tenant, member)).state == "unknown"


# --- the factors request ------------------------------------------------------------------------------------


def stepped_up_withdrawal(tenant, member):
    now = timezone.now()
    return withdrawal_of(
        connection_of(member, tenant),
        state="stepped_up",
        exchange_withdrawal_id="",
        submit_started_at=None,
        withdraw_type="ADDRESS",
        stepped_up_at=now,
        quote_expires_at=now + timedelta(minutes=5),
    )


def test_an_unavailable_exchange_at_the_factors_request_is_audited(tenant, member, exchange):
    hooks = exchange(KuCoinWithdrawals())

    def unavailable(api, connection, withdrawal):
        raise ExchangeUnavailable("The exchange could not be reached.")

    hooks.request_factors = unavailable
    withdrawal = stepped_up_withdrawal(tenant, member)
    with pytest.raises(WithdrawalError, match="not taking this request"):
        withdrawal_request_factors(withdrawal=withdrawal)
    assert audit_details(withdrawal, "exchange_unavailable")["error"] == "The exchange could not be reached."


def test_a_refused_factors_request_keeps_the_exchanges_code_in_the_audit(tenant, member, exchange):
    hooks = exchange(KuCoinWithdrawals())

    def refusing(api, connection, withdrawal):
        raise ExchangeAPIError("Balance insufficient!", code="200004")

    hooks.request_factors = refusing
    withdrawal = stepped_up_withdrawal(tenant, member)
    with pytest.raises(WithdrawalError):
        withdrawal_request_factors(withdrawal=withdrawal)
    assert audit_details(withdrawal, "refused")["error_code"] == "200004"


# --- reconciling an unknown submit --------------------------------------------------------------------------


def kraken_unknown(tenant, member, started_ago=timedelta(hours=1), **fields):
    connection = connection_of(member, tenant, "kraken", ["account.fast-api-key:funds-withdraw"])
    values = {
        "exchange": "kraken",
        "currency": "BTC",
        "destination": "my-btc",
        "withdraw_type": "ADDRESS",
        "amount": Decimal("0.01"),
        "fee_deduct_type": "INTERNAL",
        "chain_fee": Decimal("0.0005"),
        "service_fee": Decimal(0),
        "total_debit": Decimal("0.01"),
        "amount_received": Decimal("0.0095"),
        "price_usdt": Decimal(65000),
        "state": "unknown",
        "exchange_withdrawal_id": "",
        "submit_started_at": timezone.now() - started_ago,
        **fields,
    }
    return withdrawal_of(connection, **values)


def kraken_history(*items):
    hooks = KrakenWithdrawals()
    hooks._history = lambda api, connection, withdrawal: list(items)
    return hooks


def kraken_entry(refid, amount, fee, **fields):
    return {
        "method": "BTC",
        "aclass": "currency",
        "asset": "XXBT",
        "refid": refid,
        "txid": refid,
        "info": "bc1q",
        "amount": amount,
        "fee": fee,
        "time": int(timezone.now().timestamp()),
        "status": "Pending",
        **fields,
    }


def test_an_unknown_kraken_withdrawal_is_never_declared_unexecuted(tenant, member, exchange):
    # Kraken has no 2FA transaction that ends: an unanswered Withdraw may still show up, so it stays unknown.
    exchange(kraken_history())
    withdrawal = kraken_unknown(tenant, member, started_ago=timedelta(days=1))
    checked = withdrawal_reconcile(withdrawal_id=withdrawal.pk)
    assert checked.state == "unknown" and "keep checking" in checked.last_error
    assert checked.stepped_up_at == withdrawal.stepped_up_at


def test_an_unknown_kucoin_withdrawal_goes_back_to_review_once_its_transaction_ended(tenant, member, exchange):
    hooks = exchange(KuCoinWithdrawals())
    hooks.sent_candidates = lambda api, connection, withdrawal: []
    withdrawal = ready_kucoin_withdrawal(tenant, member)
    Withdrawal.objects.filter(pk=withdrawal.pk).update(
        state="unknown", submit_started_at=timezone.now() - timedelta(minutes=5)
    )
    assert withdrawal_reconcile(withdrawal_id=withdrawal.pk).state == "unknown"
    Withdrawal.objects.filter(pk=withdrawal.pk).update(submit_started_at=timezone.now() - timedelta(minutes=11))
    assert withdrawal_reconcile(withdrawal_id=withdrawal.pk).state == "previewed"


def test_kraken_finds_the_withdrawal_when_it_took_another_fee_than_previewed(tenant, member, exchange):
    # Previewed fee 0.0005 (0.0095 received); Kraken took 0.0007 and reports 0.0093 received.
    exchange(kraken_history(kraken_entry("OTHER", "0.0200", "0.0005"), kraken_entry("KR-1", "0.0093", "0.0007")))
    withdrawal = kraken_unknown(tenant, member, started_ago=timedelta(seconds=30))
    found = withdrawal_reconcile(withdrawal_id=withdrawal.pk)
    assert found.state == "processing" and found.exchange_withdrawal_id == "KR-1"


@pytest.mark.parametrize(
    "entry",
    [
        kraken_entry("KR-1", "0.0095", "0.0005", asset="XETH"),  # another asset
        kraken_entry("KR-1", "0.0095", "0.0005", key="other-address"),  # another saved address
        kraken_entry("KR-1", "0.0095", "0.0005", time=0),  # before the submit began
    ],
)
def test_kraken_does_not_take_a_withdrawal_that_is_not_this_one(tenant, member, exchange, entry):
    exchange(kraken_history(entry))
    withdrawal = kraken_unknown(tenant, member, started_ago=timedelta(seconds=30))
    assert withdrawal_reconcile(withdrawal_id=withdrawal.pk).state == "unknown"


def test_an_exchange_id_another_row_already_stands_for_is_not_taken(tenant, member, exchange):
    exchange(kraken_history(kraken_entry("KR-1", "0.0095", "0.0005")))
    withdrawal = kraken_unknown(tenant, member, started_ago=timedelta(seconds=30))
    withdrawal_of(
        withdrawal.connection,
        exchange="kraken",
        currency="BTC",
        destination="my-btc",
        amount=Decimal("0.01"),
        exchange_withdrawal_id="KR-1",
    )
    checked = withdrawal_reconcile(withdrawal_id=withdrawal.pk)
    assert checked.state == "unknown" and checked.exchange_withdrawal_id == ""
    # The next entry that matches is taken.
    exchange(kraken_history(kraken_entry("KR-2", "0.0095", "0.0005"), kraken_entry("KR-1", "0.0095", "0.0005")))
    assert withdrawal_reconcile(withdrawal_id=withdrawal.pk).exchange_withdrawal_id == "KR-2"


def test_a_sent_withdrawal_is_followed_by_the_worker_once_the_submit_has_committed(
    tenant, member, exchange, tasks_run_inline, django_capture_on_commit_callbacks
):
    hooks = exchange(KuCoinWithdrawals())
    hooks.submit = lambda api, connection, withdrawal, codes: "W-9"
    hooks.status = lambda api, connection, withdrawal: ExchangeStatus(raw="SUCCESS", final=True, succeeded=True)
    withdrawal = ready_kucoin_withdrawal(tenant, member)
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        assert submit(withdrawal).state == "processing"
        assert Withdrawal.objects.get(pk=withdrawal.pk).state == "processing"  # not polled before the commit
    assert len(enqueued) == 1
    assert Withdrawal.objects.get(pk=withdrawal.pk).state == "succeeded"
