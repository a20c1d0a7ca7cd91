"""The wizard's services against the live sandbox: one KuCoin withdrawal end to end, and its refusals."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from broker_portal.models import AuditEvent
from connectors.base.withdrawals import SecuritySetupRequired
from sandbox import clock
from sandbox.models import HistoryRecord
from withdrawals import tasks
from withdrawals.models import Withdrawal
from withdrawals.services.details import withdrawal_max_amount, withdrawal_save_details
from withdrawals.services.errors import WithdrawalError
from withdrawals.services.quote import withdrawal_preview
from withdrawals.services.step_up import withdrawal_step_up
from withdrawals.services.submit import withdrawal_submit

from .helpers import codes_for, connect_kucoin, details, ready_to_submit, sandbox_btc

pytestmark = pytest.mark.django_db(transaction=True)


def test_withdrawal_debits_exactly_the_preview_total_and_follows_to_success(portal, kucoin, sandbox_accounts):
    email = sandbox_accounts["kucoin"]["trader"]["email"]
    before = sandbox_btc(email)
    withdrawal = ready_to_submit(portal, kucoin)
    assert withdrawal.state == "factors_requested"
    assert withdrawal.factors_all == [["GAV", "EMV"]] and withdrawal.factors_sent == [["EMV"]]
    # 0.01 BTC at 65000 USDT: 10% = 65 USDT, capped at 30 USDT → 0.00046153 BTC (never above 30 USDT);
    # chain fee 0.0005.
    assert withdrawal.service_fee == Decimal("0.00046153") and withdrawal.chain_fee == Decimal("0.0005")
    assert withdrawal.total_debit == Decimal("0.01096153") and withdrawal.amount_received == Decimal("0.01")
    assert withdrawal.price_usdt == Decimal(65000)

    codes = codes_for(portal, sandbox_accounts)
    sent = withdrawal_submit(withdrawal_id=withdrawal.pk, tenant=portal["tenant"], user=portal["user"], codes=codes)
    assert sent.state == "processing" and sent.exchange_withdrawal_id.startswith("W")
    assert before - sandbox_btc(email) == sent.total_debit

    tasks.withdrawal_poll(sent.pk)
    assert Withdrawal.objects.get(pk=sent.pk).state == "processing"
    clock.set_offset(31)
    try:
        tasks.withdrawal_poll(sent.pk)
    finally:
        clock.set_offset(0)
    done = Withdrawal.objects.get(pk=sent.pk)
    assert done.state == "succeeded" and done.exchange_status == "SUCCESS" and done.completed_at

    actions = list(
        AuditEvent.objects.filter(target_type="withdrawals.Withdrawal", target_id=str(done.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "withdrawal.started",
        "withdrawal.previewed",
        "withdrawal.stepped_up",
        "withdrawal.factors_requested",
        "withdrawal.submitting",
        "withdrawal.submitted",
        "withdrawal.succeeded",
    ]
    # The codes went to the exchange only.
    stored = str(list(AuditEvent.objects.values_list("details", flat=True))) + str(Withdrawal.objects.values())
    assert codes["EMV"] not in stored

    # A repeated submit (back button, double click) sends nothing more.
    again = withdrawal_submit(
        withdrawal_id=sent.pk, tenant=portal["tenant"], user=portal["user"], codes=codes_for(portal, sandbox_accounts)
    )
    assert again.state == "succeeded"
    assert HistoryRecord.objects.filter(kind="withdrawal", details__remark__contains=sent.reference).count() == 1


def test_wrong_codes_return_to_the_codes_step_and_move_nothing(portal, kucoin, sandbox_accounts):
    email = sandbox_accounts["kucoin"]["trader"]["email"]
    before = sandbox_btc(email)
    withdrawal = ready_to_submit(portal, kucoin)
    with pytest.raises(WithdrawalError, match="code"):
        withdrawal_submit(
            withdrawal_id=withdrawal.pk,
            tenant=portal["tenant"],
            user=portal["user"],
            codes={"GAV": "000000", "EMV": "000000"},
        )
    assert Withdrawal.objects.get(pk=withdrawal.pk).state == "factors_requested"
    assert sandbox_btc(email) == before
    sent = withdrawal_submit(
        withdrawal_id=withdrawal.pk,
        tenant=portal["tenant"],
        user=portal["user"],
        codes=codes_for(portal, sandbox_accounts),
    )
    assert sent.state == "processing"


def test_internal_deduction_debits_the_amount_and_the_recipient_gets_less(portal, kucoin, sandbox_accounts):
    email = sandbox_accounts["kucoin"]["trader"]["email"]
    before = sandbox_btc(email)
    withdrawal = ready_to_submit(portal, kucoin, fee_deduct_type="INTERNAL")
    assert withdrawal.total_debit == Decimal("0.01")
    assert withdrawal.amount_received == Decimal("0.01") - withdrawal.chain_fee - withdrawal.service_fee
    sent = withdrawal_submit(
        withdrawal_id=withdrawal.pk,
        tenant=portal["tenant"],
        user=portal["user"],
        codes=codes_for(portal, sandbox_accounts),
    )
    assert before - sandbox_btc(email) == sent.total_debit
    record = HistoryRecord.objects.get(kind="withdrawal", txid=sent.exchange_withdrawal_id)
    assert record.amount == sent.amount_received


def test_a_withdrawal_whose_recipient_would_receive_nothing_is_blocked(portal, kucoin):
    # 1 USDT by UID, fees from the amount: the 1 USDT minimum service fee takes it all.
    withdrawal = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=kucoin,
        idempotency_key=uuid.uuid4(),
        details=details(
            currency="USDT",
            chain="",
            withdraw_type="UID",
            destination="123456789",
            amount=Decimal("1"),
            fee_deduct_type="INTERNAL",
        ),
    )
    with pytest.raises(WithdrawalError, match="receive nothing"):
        withdrawal_preview(withdrawal=withdrawal)
    assert Withdrawal.objects.get(pk=withdrawal.pk).state == "draft"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"amount": Decimal("0.000000001")}, "amount"),  # finer than 8 decimals
        ({"amount": Decimal("0.0005")}, "amount"),  # below the chain's minimum 0.001
        ({"amount": Decimal("2")}, "amount"),  # more than the 1.5 available
        ({"chain": "trx"}, "chain"),  # not a BTC network
        ({"withdraw_type": "MAIL", "destination": "nobody"}, "destination"),
    ],
)
def test_details_are_checked_against_the_currency_and_balance(portal, kucoin, overrides, field):
    with pytest.raises(WithdrawalError) as refused:
        withdrawal_save_details(
            tenant=portal["tenant"],
            user=portal["user"],
            connection=kucoin,
            idempotency_key=uuid.uuid4(),
            details=details(**overrides),
        )
    assert field in refused.value.field_errors
    assert not Withdrawal.objects.exists()


def test_the_same_idempotency_key_is_one_draft_and_back_navigation_resets_the_preview(portal, kucoin):
    key = uuid.uuid4()
    first = withdrawal_save_details(
        tenant=portal["tenant"], user=portal["user"], connection=kucoin, idempotency_key=key, details=details()
    )
    withdrawal_preview(withdrawal=first)
    second = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=kucoin,
        idempotency_key=key,
        details=details(amount=Decimal("0.02")),
    )
    assert first.pk == second.pk and Withdrawal.objects.count() == 1
    assert second.state == "draft" and second.total_debit is None and second.amount == Decimal("0.02")


def test_an_expired_preview_is_quoted_again(portal, kucoin):
    withdrawal = withdrawal_save_details(
        tenant=portal["tenant"], user=portal["user"], connection=kucoin, idempotency_key=uuid.uuid4(), details=details()
    )
    withdrawal = withdrawal_preview(withdrawal=withdrawal)
    first_expiry = withdrawal.quote_expires_at
    Withdrawal.objects.filter(pk=withdrawal.pk).update(quote_expires_at=timezone.now())
    withdrawal.refresh_from_db()
    with pytest.raises(WithdrawalError, match="expired"):
        withdrawal_step_up(withdrawal=withdrawal, authenticated_at=timezone.now())
    requoted = withdrawal_preview(withdrawal=withdrawal)
    assert requoted.quote_expires_at > first_expiry and requoted.state == "previewed"
    assert AuditEvent.objects.filter(action="withdrawal.requoted", target_id=str(withdrawal.pk)).exists()


def test_an_account_without_2fa_gets_the_security_setup_link(portal, sandbox_accounts):
    connection = connect_kucoin(portal, sandbox_accounts, who="no2fa")
    with pytest.raises(SecuritySetupRequired) as needed:
        ready_to_submit(portal, connection)
    assert "/sandbox/kucoin-www/account/security/g2fa" in needed.value.url
    assert AuditEvent.objects.filter(action="withdrawal.security_setup_required").exists()
    assert Withdrawal.objects.get().state == "stepped_up"


def test_uid_withdrawals_respect_the_exchange_limit_before_calling(portal, kucoin):
    for _ in range(3):
        ready_to_submit(
            portal,
            kucoin,
            currency="USDT",
            chain="",
            withdraw_type="UID",
            destination="123456789",
            amount=Decimal("20"),
        )
    with pytest.raises(WithdrawalError, match="Try again at") as refused:
        ready_to_submit(
            portal,
            kucoin,
            currency="USDT",
            chain="",
            withdraw_type="UID",
            destination="123456789",
            amount=Decimal("20"),
        )
    assert refused.value.retry_at > timezone.now()
    from sandbox.models import WithdrawalRequest

    assert WithdrawalRequest.objects.count() == 3  # the fourth never reached the exchange


def test_the_verify_page_shows_kucoins_setup_link_with_the_way_back(portal, sandbox_accounts, client):
    from urllib.parse import parse_qs, urlsplit

    connection = connect_kucoin(portal, sandbox_accounts, who="no2fa")
    withdrawal = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=connection,
        idempotency_key=uuid.uuid4(),
        details=details(),
    )
    withdrawal = withdrawal_preview(withdrawal=withdrawal)
    withdrawal_step_up(withdrawal=withdrawal, authenticated_at=timezone.now())
    client.defaults["HTTP_HOST"] = "localhost"
    client.force_login(portal["user"])
    page = client.post(f"/withdrawals/{withdrawal.pk}/verify/", {"action": "request"})
    html = page.content.decode()
    assert page.status_code == 200 and 'id="security-setup-link"' in html
    link = html.split('id="security-setup-link" href="')[1].split('"')[0].replace("&amp;", "&")
    assert link.startswith(f"{portal['url']}/sandbox/kucoin-www/account/security/g2fa?")
    query = parse_qs(urlsplit(link).query)
    assert query["client_id"] == ["live-kucoin"]
    assert query["redirect_uri"] == ["http://localhost/withdrawals/exchange-security/"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Fwithdrawals%2Fexchange-security%2F" in link
    back = client.get("/withdrawals/exchange-security/")
    assert back.status_code == 302 and back["Location"] == f"/withdrawals/{withdrawal.pk}/verify/"


@pytest.mark.parametrize("fee_deduct_type, from_the_amount", [("INTERNAL", True), ("EXTERNAL", False)])
def test_the_preview_is_what_the_sandbox_debits_and_delivers_in_both_fee_modes(
    portal, kucoin, sandbox_accounts, fee_deduct_type, from_the_amount
):
    # KuCoin's withdrawal v3 (level A): INTERNAL takes the fee from the amount, EXTERNAL from the main account.
    # The portal had them the other way round; the preview, the exchange's debit and what arrives must agree.
    email = sandbox_accounts["kucoin"]["trader"]["email"]
    before = sandbox_btc(email)
    withdrawal = ready_to_submit(portal, kucoin, fee_deduct_type=fee_deduct_type)
    fees = withdrawal.chain_fee + withdrawal.service_fee
    if from_the_amount:
        assert (withdrawal.total_debit, withdrawal.amount_received) == (Decimal("0.01"), Decimal("0.01") - fees)
    else:
        assert (withdrawal.total_debit, withdrawal.amount_received) == (Decimal("0.01") + fees, Decimal("0.01"))
    sent = withdrawal_submit(
        withdrawal_id=withdrawal.pk,
        tenant=portal["tenant"],
        user=portal["user"],
        codes=codes_for(portal, sandbox_accounts),
    )
    assert before - sandbox_btc(email) == sent.total_debit
    record = HistoryRecord.objects.get(kind="withdrawal", txid=sent.exchange_withdrawal_id)
    assert record.amount == sent.amount_received and record.address == sent.destination
    assert record.details["feeDeductType"] == fee_deduct_type
    ledger = HistoryRecord.objects.filter(kind="ledger", details__withdrawalId=sent.exchange_withdrawal_id)
    assert -sum(entry.amount for entry in ledger) == sent.total_debit


@pytest.mark.parametrize("fee_deduct_type", ["EXTERNAL", "INTERNAL"])
def test_max_is_an_amount_the_balance_covers_with_kucoin_s_fees(portal, kucoin, sandbox_accounts, fee_deduct_type):
    available = sandbox_btc(sandbox_accounts["kucoin"]["trader"]["email"])
    amount = withdrawal_max_amount(
        connection=kucoin, currency="BTC", chain="btc", withdraw_type="ADDRESS", fee_deduct_type=fee_deduct_type
    )
    withdrawal = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=kucoin,
        idempotency_key=uuid.uuid4(),
        details=details(amount=amount, fee_deduct_type=fee_deduct_type),
    )
    withdrawal = withdrawal_preview(withdrawal=withdrawal)  # refused if the fees did not fit
    assert withdrawal.total_debit <= available
    if fee_deduct_type == "INTERNAL":
        assert amount == available  # the fees come out of it
    else:
        assert available - withdrawal.total_debit < Decimal("0.00000002")  # nothing worth a step left over
