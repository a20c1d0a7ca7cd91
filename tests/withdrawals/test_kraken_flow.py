"""Kraken: a withdrawal to a saved address by name, no 2FA step, the fee out of the amount."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from connectors.base.api import ExchangeAPIError
from connectors.kraken.withdrawals import WITHDRAWALS
from connectors.kraken.withdrawals import withdrawal_status as kraken_withdrawal_status
from connectors.models import ExchangeConnection
from sandbox import clock
from sandbox.models import Balance, HistoryRecord, SandboxUser
from withdrawals import tasks
from withdrawals.models import Withdrawal
from withdrawals.services.details import withdrawal_save_details
from withdrawals.services.errors import WithdrawalError
from withdrawals.services.exchange import exchange_context
from withdrawals.services.factors import withdrawal_request_factors
from withdrawals.services.quote import withdrawal_preview
from withdrawals.services.step_up import withdrawal_step_up
from withdrawals.services.submit import withdrawal_submit

from .helpers import PortalBrowser, details

pytestmark = pytest.mark.django_db(transaction=True)

SCOPES = ["account.fast-api-key:write", "account.fast-api-key:funds-query", "account.fast-api-key:funds-withdraw"]


def connect_kraken(portal, account) -> ExchangeConnection:
    browser = PortalBrowser(portal["url"])
    browser.sign_in(portal["user"].email)
    callback = browser.consent(
        browser.start_connect("kraken", SCOPES), account["email"], account["password"], scopes=SCOPES
    )
    assert browser.session.get(callback, allow_redirects=False).status_code == 302
    return ExchangeConnection.objects.get(exchange="kraken")


def test_kraken_withdrawal_by_address_name_debits_the_preview_total(portal, sandbox_accounts):
    account = sandbox_accounts["kraken"]["trader"]
    connection = connect_kraken(portal, account)
    balance = Balance.objects.get(user__email=account["email"], user__exchange="kraken", currency="BTC")
    before = balance.available

    with pytest.raises(WithdrawalError) as refused:
        withdrawal_save_details(
            tenant=portal["tenant"],
            user=portal["user"],
            connection=connection,
            idempotency_key=uuid.uuid4(),
            details=details(chain="", destination="my-btc"),
        )
    assert "fee_deduct_type" in refused.value.field_errors  # Kraken only takes the fee out of the amount

    withdrawal = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=connection,
        idempotency_key=uuid.uuid4(),
        details=details(chain="", destination="my-btc", fee_deduct_type="INTERNAL"),
    )
    withdrawal = withdrawal_preview(withdrawal=withdrawal)
    assert withdrawal.service_fee == 0 and withdrawal.chain_fee == Decimal("0.0005")
    assert withdrawal.total_debit == Decimal("0.01") and withdrawal.amount_received == Decimal("0.0095")
    withdrawal = withdrawal_step_up(withdrawal=withdrawal, authenticated_at=timezone.now())
    withdrawal = withdrawal_request_factors(withdrawal=withdrawal)  # nothing to ask at Kraken
    assert withdrawal.state == "stepped_up"
    sent = withdrawal_submit(withdrawal_id=withdrawal.pk, tenant=portal["tenant"], user=portal["user"], codes={})
    assert sent.state == "processing" and sent.exchange_withdrawal_id
    balance.refresh_from_db()
    assert before - balance.available == sent.total_debit

    clock.set_offset(31)
    try:
        tasks.withdrawal_poll(sent.pk)
    finally:
        clock.set_offset(0)
    done = Withdrawal.objects.get(pk=sent.pk)
    assert done.state == "succeeded"
    record = HistoryRecord.objects.get(kind="withdrawal", txid=sent.exchange_withdrawal_id)
    assert done.transaction_hash == record.txid  # WithdrawStatus's txid, as the sandbox answers it


@pytest.mark.parametrize(
    "entry, raw, final, succeeded",
    [
        ({"status": "Initial"}, "Initial", False, False),
        ({"status": "Pending"}, "Pending", False, False),
        ({"status": "Settled"}, "Settled", False, False),
        ({"status": "Success"}, "Success", True, True),
        ({"status": "Failure"}, "Failure", True, False),
        # A cancellation is the additional property, not a status (the old reading looked for status "Canceled").
        ({"status": "Pending", "status-prop": "canceled"}, "Pending (canceled)", True, False),
        ({"status": "Pending", "status-prop": "cancel-pending"}, "Pending", False, False),
        ({"status": "Pending", "status-prop": "onhold"}, "Pending", False, False),
    ],
)
def test_withdraw_status_entries_read_as_the_spec_lists_them(entry, raw, final, succeeded):
    status = kraken_withdrawal_status({"refid": "FTQ", **entry})
    assert (status.raw, status.final, status.succeeded) == (raw, final, succeeded)


def test_a_withdrawal_cancelled_at_kraken_ends_failed(portal, sandbox_accounts):
    connection = connect_kraken(portal, sandbox_accounts["kraken"]["trader"])
    withdrawal = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=connection,
        idempotency_key=uuid.uuid4(),
        details=details(chain="", destination="my-btc", fee_deduct_type="INTERNAL"),
    )
    withdrawal = withdrawal_preview(withdrawal=withdrawal)
    withdrawal = withdrawal_step_up(withdrawal=withdrawal, authenticated_at=timezone.now())
    withdrawal = withdrawal_request_factors(withdrawal=withdrawal)
    sent = withdrawal_submit(withdrawal_id=withdrawal.pk, tenant=portal["tenant"], user=portal["user"], codes={})
    tasks.withdrawal_poll(sent.pk)
    assert Withdrawal.objects.get(pk=sent.pk).state == "processing"  # Initial is no end
    HistoryRecord.objects.filter(txid=sent.exchange_withdrawal_id).update(status="CANCELED")
    tasks.withdrawal_poll(sent.pk)
    ended = Withdrawal.objects.get(pk=sent.pk)
    assert ended.state == "failed" and ended.exchange_status.endswith("(canceled)")


def test_kraken_refusals_reach_the_user_in_words_never_as_its_error_codes(portal, sandbox_accounts):
    connection = connect_kraken(portal, sandbox_accounts["kraken"]["trader"])
    withdrawal = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=connection,
        idempotency_key=uuid.uuid4(),
        details=details(chain="", destination="nobody-saved-this", fee_deduct_type="INTERNAL"),
    )
    with pytest.raises(WithdrawalError) as refused:
        withdrawal_preview(withdrawal=withdrawal)
    assert "Kraken knows no saved withdrawal address of that name" in refused.value.message
    assert "EFunding" not in refused.value.message
    # A refusal the package has no words for still loses its code's prefix.
    assert (
        WITHDRAWALS.refusal_message(ExchangeAPIError("EFunding:Something new", code="EFunding:Something new"))
        == "Something new"
    )


def test_the_saved_addresses_are_kraken_s_own_key_names(portal, sandbox_accounts):
    account = sandbox_accounts["kraken"]["trader"]
    connection = connect_kraken(portal, account)
    api, _, _ = exchange_context(connection)
    saved = {item.currency: item for item in WITHDRAWALS.saved_addresses(api, connection)}
    book = SandboxUser.objects.get(exchange="kraken", email=account["email"]).address_book
    assert {entry["currency"]: entry["name"] for entry in book} == {code: item.key for code, item in saved.items()}
    assert saved["BTC"].address == next(entry["address"] for entry in book if entry["currency"] == "BTC")
