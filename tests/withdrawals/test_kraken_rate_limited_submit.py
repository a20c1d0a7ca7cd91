"""A Kraken withdrawal whose submit meets Kraken's rate limit (HTTP 200, "EAPI:Rate limit exceeded") was not
executed: it stays ready to send, with the time to try again, as after a 429; it does not end as failed."""

import base64
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connectors.kraken.client import RATE_LIMIT_RETRY_AFTER, KrakenAPI
from connectors.kraken.withdrawals import KrakenWithdrawals
from tests.connectors.canned import json_answer
from tests.withdrawals.helpers import connection_of, withdrawal_of
from withdrawals.models import Withdrawal
from withdrawals.services.errors import WithdrawalError
from withdrawals.services.submit import withdrawal_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def kraken_exchange(monkeypatch):
    """The real Kraken client and hooks for every connection; only the transport is canned."""
    api = KrakenAPI({"api_base_url": "https://api.kraken.test"})
    hooks = KrakenWithdrawals()
    monkeypatch.setattr("withdrawals.services.exchange.exchange_context", lambda connection: (api, hooks, None))


def ready_kraken_withdrawal(tenant, member):
    connection = connection_of(member, tenant, "kraken", ["account.fast-api-key:funds-withdraw"])
    connection.api_secret = base64.b64encode(b"secret" * 8).decode()
    connection.save()
    now = timezone.now()
    return withdrawal_of(
        connection,
        exchange="kraken",
        currency="BTC",
        destination="my-btc",
        withdraw_type="ADDRESS",
        amount=Decimal("0.01"),
        fee_deduct_type="INTERNAL",
        chain_fee=Decimal("0.0005"),
        service_fee=Decimal(0),
        total_debit=Decimal("0.01"),
        amount_received=Decimal("0.0095"),
        price_usdt=Decimal(65000),
        state="stepped_up",
        exchange_withdrawal_id="",
        submit_started_at=None,
        stepped_up_at=now,
        quote_expires_at=now + timedelta(minutes=5),
    )


@pytest.mark.parametrize("error", ["EAPI:Rate limit exceeded", "EGeneral:Too many requests"])
def test_a_kraken_rate_limit_at_submit_leaves_the_withdrawal_ready_to_send_again(
    tenant, member, kraken_exchange, canned_answers, error
):
    withdrawal = ready_kraken_withdrawal(tenant, member)
    canned_answers["/0/private/Withdraw"] = json_answer({"error": [error], "result": {}})
    with pytest.raises(WithdrawalError, match="Try again at") as limited:
        withdrawal_submit(withdrawal_id=withdrawal.pk, tenant=tenant, user=member, codes={})
    assert limited.value.retry_at - timezone.now() <= timedelta(seconds=RATE_LIMIT_RETRY_AFTER)
    kept = Withdrawal.objects.get(pk=withdrawal.pk)
    assert kept.state == "stepped_up" and kept.submit_started_at is None and kept.completed_at is None

    canned_answers["/0/private/Withdraw"] = json_answer({"error": [], "result": {"refid": "KR-1"}})
    sent = withdrawal_submit(withdrawal_id=withdrawal.pk, tenant=tenant, user=member, codes={})
    assert sent.state == "processing" and sent.exchange_withdrawal_id == "KR-1"
