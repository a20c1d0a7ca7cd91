"""The preview against details saved meanwhile, a changed quote on the page, and amounts out of range."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from api.serializers import WithdrawalCreateInput
from connectors.base.withdrawals import Price
from connectors.exchanges import withdrawal_hooks
from tests.withdrawals.helpers import connection_of, withdrawal_of
from withdrawals import fees
from withdrawals.forms import DetailsForm
from withdrawals.models import Withdrawal, WithdrawalLimit
from withdrawals.services.details import Details, details_errors, parse_amount
from withdrawals.services.errors import QuoteChanged, WithdrawalError
from withdrawals.services.quote import withdrawal_preview

pytestmark = pytest.mark.django_db


def draft_of(connection, **fields):
    return withdrawal_of(
        connection,
        state="draft",
        exchange_withdrawal_id="",
        submit_started_at=None,
        total_debit=None,
        amount_received=None,
        service_fee=None,
        chain_fee=None,
        price_usdt=None,
        **fields,
    )


def test_details_saved_while_the_fees_were_quoted_do_not_get_the_old_figures(tenant, member, monkeypatch):
    connection = connection_of(member, tenant)
    WithdrawalLimit.objects.create(tenant=tenant, scope="per_user", window_hours=24, max_usdt=Decimal("1000"))
    draft = draft_of(connection)  # 100 USDT

    def quote_while_another_tab_saves(withdrawal, api, hooks):
        quote = fees.quote(
            amount=withdrawal.amount,
            chain_fee=Decimal(0),
            price_usdt=Decimal(1),
            precision=6,
            fee_deduct_type="EXTERNAL",
        )
        # Another tab saves 5000 USDT (past the limit) while this request talks to the exchange.
        Withdrawal.objects.filter(pk=withdrawal.pk).update(amount=Decimal("5000"))
        return quote, Price(usdt=Decimal(1), at=timezone.now())

    hooks = withdrawal_hooks("kucoin")
    monkeypatch.setattr("withdrawals.services.exchange.exchange_context", lambda connection: (object(), hooks, None))
    monkeypatch.setattr("withdrawals.services.quote._quote", quote_while_another_tab_saves)
    with pytest.raises(WithdrawalError, match="changed while the fees were being quoted"):
        withdrawal_preview(withdrawal=draft)
    stored = Withdrawal.objects.get(pk=draft.pk)
    assert stored.state == "draft" and stored.total_debit is None and stored.quote_expires_at is None


def test_a_changed_quote_at_continue_shows_the_new_figures_instead_of_going_on(tenant, member, client_at, monkeypatch):
    connection = connection_of(member, tenant)
    withdrawal = withdrawal_of(
        connection,
        state="previewed",
        exchange_withdrawal_id="",
        submit_started_at=None,
        quote_expires_at=timezone.now() - timedelta(seconds=1),
    )

    def requote_with_other_figures(*, withdrawal, request=None):
        Withdrawal.objects.filter(pk=withdrawal.pk).update(
            service_fee=Decimal("12.5"),
            total_debit=Decimal("112.5"),
            quote_expires_at=timezone.now() + timedelta(minutes=5),
        )
        raise QuoteChanged("The preview expired and the fees changed. Please review the new figures.")

    monkeypatch.setattr("withdrawals.services.quote.withdrawal_preview", requote_with_other_figures)
    client = client_at("alpha.localhost")
    client.force_login(member)
    page = client.post(f"/withdrawals/{withdrawal.pk}/preview/")
    html = page.content.decode()
    assert page.status_code == 200, page.get("Location")
    assert 'id="quote-changed"' in html and "112.5" in html and "Continue" in html


# --- amounts out of range -------------------------------------------------------------------------------------


HUGE = ["1e30", "1E+15", "Infinity", "NaN", "-1", "0", "0.0000000000000000001"]


@pytest.mark.parametrize("raw", HUGE)
def test_the_details_form_refuses_amounts_out_of_range(raw):
    hooks = withdrawal_hooks("kucoin")
    form = DetailsForm(
        data={
            "idempotency_key": "6f1c2a1e-8a50-4c55-9a36-1f7e7b0b5a11",
            "currency": "USDT",
            "withdraw_type": "UID",
            "destination": "123456",
            "amount": raw,
            "fee_deduct_type": "EXTERNAL",
        },
        currencies=["USDT"],
        hooks=hooks,
    )
    assert not form.is_valid() and "amount" in form.errors


@pytest.mark.parametrize("raw", HUGE)
def test_the_api_refuses_amounts_out_of_range(raw):
    data = WithdrawalCreateInput(data={"connection": 1, "currency": "USDT", "destination": "123456", "amount": raw})
    assert not data.is_valid() and "amount" in data.errors


@pytest.mark.parametrize("raw", HUGE)
def test_the_service_refuses_amounts_out_of_range_with_a_field_error(raw):
    with pytest.raises(WithdrawalError) as refused:
        parse_amount(raw)
    assert "amount" in refused.value.field_errors


def test_the_details_check_answers_a_huge_amount_with_a_field_error():
    from connectors.base.withdrawals import CurrencyInfo

    details = Details(
        currency="USDT",
        chain="",
        withdraw_type="UID",
        destination="123456",
        memo="",
        remark="",
        amount=Decimal("1e30"),
        fee_deduct_type="EXTERNAL",
    )
    errors = details_errors(
        details,
        hooks=withdrawal_hooks("kucoin"),
        info=CurrencyInfo(code="USDT", precision=6, chains=()),
        available=Decimal(10),
    )
    assert "digits" in errors["amount"]


@pytest.mark.django_db(transaction=True)
def test_the_preview_shows_the_fees_in_the_tenants_reference_currency(portal, kucoin, client):
    """The service fee's rule stays in USDT (at most 30 USDT worth); the preview shows it, and every fee line, in the
    tenant's USDC, at KuCoin's own USDC-USDT price quoted with the fees."""
    import uuid

    from withdrawals.services.details import withdrawal_save_details

    from .helpers import details

    tenant = portal["tenant"]
    tenant.reference_currency = "USDC"
    tenant.save(update_fields=["reference_currency"])
    withdrawal = withdrawal_save_details(
        tenant=tenant, user=portal["user"], connection=kucoin, idempotency_key=uuid.uuid4(), details=details()
    )
    withdrawal = withdrawal_preview(withdrawal=withdrawal)
    assert withdrawal.reference_currency == "USDC" and withdrawal.reference_price_usdt == Decimal("0.9998")
    assert withdrawal.service_fee == Decimal("0.00046153")  # 30 USDT at 65,000: the rule's maximum, in USDT
    client.defaults["HTTP_HOST"] = "localhost"
    client.force_login(portal["user"])
    html = client.get(f"/withdrawals/{withdrawal.pk}/preview/").content.decode()
    # 0.00046153 BTC × 65,000 USDT / 0.9998 USDT a USDC = 30.0054… USDC
    assert '<span class="muted worth" id="service-fee-usdt">≈ 30.01 USDC</span>' in html
    chain_fee = (withdrawal.chain_fee * 65000 / Decimal("0.9998")).quantize(Decimal("0.01"))
    assert f'id="chain-fee-usdt">≈ {chain_fee:,} USDC</span>' in html
    assert "1 BTC = 65000 USDT, 1 USDC = 0.9998 USDT at" in html
    # The rule itself is KuCoin's, in USDT; its bounds in USDC at the quoted price: 1 / 0.9998 and 30 / 0.9998.
    assert "at least 1 USDT and at most 30 USDT worth (about 1.00 to 30.01 USDC)." in html

    # A reference price the exchange did not quote: the fee lines say so instead of showing a USDT figure as USDC.
    Withdrawal.objects.filter(pk=withdrawal.pk).update(reference_price_usdt=None)
    html = client.get(f"/withdrawals/{withdrawal.pk}/preview/").content.decode()
    assert 'id="service-fee-usdt">price unavailable</span>' in html and "≈" not in html
    assert "at most 30 USDT worth." in html and "USDC)" not in html
