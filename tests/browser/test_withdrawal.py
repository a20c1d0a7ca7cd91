"""The whole withdrawal wizard in Chromium against the sandbox: details, preview, MFA step-up, KuCoin's
codes (authenticator and the e-mail from the sandbox inbox), submit, and the status to its final state."""

import time
from datetime import timedelta
from decimal import Decimal

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.utils import timezone
from playwright.sync_api import expect

from broker_portal.models import User
from sandbox import clock
from sandbox.models import Balance
from withdrawals import tasks
from withdrawals.models import Withdrawal

from .helpers import (
    confirm_with_authenticator,
    connect_at_sandbox,
    connect_kucoin,
    fill_kucoin_withdrawal_details,
    sign_in,
    submit_with_kucoin_codes,
)

pytestmark = pytest.mark.browser

PORTAL_TOTP_SECRET = "JBSWY3DPEHPK3PXPWITHDRAW"


def test_withdraw_btc_from_kucoin_through_the_whole_wizard(live_server, page, demo):
    member = sign_in(page, live_server, demo)
    account = next(a for a in demo["sandbox_accounts"]["kucoin"] if a["email"].startswith("trader@"))
    balance = Balance.objects.get(user__email=account["email"], user__exchange="kucoin", currency="BTC")
    before = balance.available
    connect_kucoin(page, account)

    # 1. Details.
    fill_kucoin_withdrawal_details(page)

    # 2. Preview: 0.02 BTC is 1300 USDT, so the service fee is the 30 USDT cap.
    expect(page.locator("#service-fee")).to_have_text("0.00046153 BTC")
    expect(page.locator("#total-debit")).to_have_text("0.02096153 BTC")
    expect(page.locator("#amount-received")).to_have_text("0.02 BTC")
    page.get_by_role("button", name="Continue").click()

    # 3. Step-up: the demo end user has no MFA yet, so the wizard asks for it and keeps the draft.
    expect(page.locator("#mfa-required")).to_be_visible()
    TOTP.activate(User.objects.get(email=member["email"]), PORTAL_TOTP_SECRET)
    page.get_by_role("link", name="I have set it up").click()
    confirm_with_authenticator(page, pyotp.TOTP(PORTAL_TOTP_SECRET).now())

    # 4–6. KuCoin's factors (the authenticator and the e-mailed code), then submit.
    submit_with_kucoin_codes(page, f"{live_server.url}/sandbox", account)
    expect(page.locator("#withdrawal-state")).to_have_text("Processing at the exchange")
    expect(page.locator("#exchange-withdrawal-id")).to_have_text(Withdrawal.objects.get().exchange_withdrawal_id)

    withdrawal = Withdrawal.objects.get()
    balance.refresh_from_db()
    debit = before - balance.available
    assert debit == withdrawal.total_debit == Decimal("0.02096153")

    # 7. The worker follows it to its final state.
    clock.set_offset(31)
    try:
        tasks.withdrawal_poll(withdrawal.pk)
    finally:
        clock.set_offset(0)
    page.reload()
    expect(page.locator("#withdrawal-state")).to_have_text("Completed")
    withdrawal.refresh_from_db()
    assert withdrawal.transaction_hash  # KuCoin's walletTxId
    expect(page.locator("#transaction-hash")).to_have_text(withdrawal.transaction_hash)
    expect(page.locator("#completed-at")).to_contain_text(" UTC")
    page.screenshot(path="/tmp/withdrawal.png", full_page=True)


VIEWPORTS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["desktop", "phone"])
def test_the_wizard_says_where_the_user_is_what_it_needs_and_what_it_costs(live_server, page, demo, viewport):
    page.set_viewport_size(viewport)
    width = viewport["width"]
    member = sign_in(page, live_server, demo)
    account = next(a for a in demo["sandbox_accounts"]["kucoin"] if a["email"].startswith("trader@"))
    connect_kucoin(page, account)
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Withdraw").click()
    expect(page.locator("#wizard-step-now")).to_have_text("Step 1 of 5: Details")
    expect(page.locator('.wizard-steps [aria-current="step"]')).to_have_text("1. Details")

    # The portal's 2FA is asked for before anything is typed, and its setup comes back here.
    expect(page.locator("#mfa-needed")).to_be_visible()
    details_url = page.url
    page.screenshot(path=f"/tmp/withdrawal-details-{width}.png", full_page=True)
    page.locator("#mfa-setup-first").click()
    page.fill("#id_password", member["password"])  # allauth asks for the password again before a new factor
    page.get_by_role("button", name="Confirm").click()
    totp = pyotp.TOTP(page.locator("#authenticator_secret").input_value())
    page.fill("input[name=code]", totp.now())
    page.get_by_role("button", name="Activate").click()
    expect(page).to_have_url(details_url)
    expect(page.locator("#mfa-needed")).to_have_count(0)

    # Only the chosen currency's networks are offered.
    shown = page.locator("#id_chain optgroup:not([hidden])")
    for currency in ("USDT", "BTC"):
        page.select_option("#id_currency", currency)
        expect(shown).to_have_count(1)
        expect(shown).to_have_attribute("data-for", currency)
    page.select_option("#id_chain", "btc")
    page.fill("#id_destination", "bc1qchromiumtest0000")
    page.fill("#id_amount", "0.02")
    page.get_by_label("Fees from my balance").check()

    # The button says it is sending and a second press sends nothing more (the form is held back here to look).
    page.evaluate("window.addEventListener('submit', function (event) { event.preventDefault(); })")
    button = page.get_by_role("button", name="Preview fees")
    button.click()
    expect(page.locator("#preview-fees")).to_be_disabled()
    expect(page.locator("#preview-fees")).to_have_text("Checking the fees…")
    page.evaluate("document.getElementById('preview-fees').form.submit()")

    # The preview: the network's name, each fee in words and in USDT.
    expect(page.locator("#wizard-step-now")).to_have_text("Step 2 of 5: Preview")
    expect(page.locator("#network")).to_have_text("BTC")  # KuCoin's chainName; the id is "btc"
    expect(page.locator("#service-fee-usdt")).to_have_text("≈ 30.00 USDT")
    expect(page.locator("#fee-rule")).to_contain_text("on top of the amount, so the recipient gets the full 0.02 BTC")
    expect(page.locator("#fee-rule")).to_contain_text("10% of the amount, at least 1 USDT and at most 30 USDT worth")
    page.screenshot(path=f"/tmp/withdrawal-preview-{width}.png", full_page=True)
    page.get_by_role("button", name="Continue").click()
    # The code of the next period (the setup used this one), within the portal's tolerance of one step.
    confirm_with_authenticator(page, totp.at(time.time() + 30))
    submit_with_kucoin_codes(page, f"{live_server.url}/sandbox", account)

    # The status page: exchange, network, fees, times and the exchange's transaction id.
    withdrawal = Withdrawal.objects.get()
    expect(page.locator("#withdrawal-state")).to_have_text("Processing at the exchange")
    expect(page.locator("#exchange")).to_have_text("KuCoin")
    expect(page.locator("#chain-fee")).to_have_text(f"{withdrawal.chain_fee.normalize():f} BTC")
    expect(page.locator("#service-fee")).to_have_text("0.00046153 BTC")
    expect(page.locator("#submitted-at")).to_contain_text(" UTC")
    expect(page.locator("#exchange-withdrawal-id")).to_have_text(withdrawal.exchange_withdrawal_id)
    page.screenshot(path=f"/tmp/withdrawal-status-{width}.png", full_page=True)

    # The list names the exchange and leaves out a draft abandoned two hours ago.
    abandoned = Withdrawal.objects.create(
        tenant=withdrawal.tenant,
        user=withdrawal.user,
        connection=withdrawal.connection,
        exchange="kucoin",
        currency="BTC",
        destination="bc1qleft",
        amount=Decimal("0.01"),
    )
    Withdrawal.objects.filter(pk=abandoned.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    page.goto(f"{live_server.url}/withdrawals/")
    rows = page.locator("#withdrawals tr[data-withdrawal]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("KuCoin")
    page.screenshot(path=f"/tmp/withdrawal-list-{width}.png", full_page=True)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["desktop", "phone"])
def test_kraken_offers_the_saved_addresses_and_a_max_that_counts_the_fee(live_server, page, demo, viewport):
    page.set_viewport_size(viewport)
    member = sign_in(page, live_server, demo)
    TOTP.activate(User.objects.get(email=member["email"]), PORTAL_TOTP_SECRET)
    account = next(a for a in demo["sandbox_accounts"]["kraken"] if a["email"].startswith("trader@"))
    connect_at_sandbox(page, "kraken", account, permissions=("Withdraw",))
    page.locator('[data-exchange="kraken"]').get_by_role("link", name="Withdraw", exact=True).click()
    expect(page.locator("#mfa-needed")).to_have_count(0)  # this user has the portal's 2FA already

    # The destination is one of the user's saved addresses at Kraken, by the key names Kraken gave them.
    page.select_option("#id_currency", "ETH")
    offered = page.locator("#id_destination optgroup:not([hidden]) option")
    expect(offered).to_have_count(1)
    expect(offered).to_contain_text("my-eth · ")
    page.select_option("#id_currency", "BTC")
    expect(page.locator("#id_destination")).to_have_value("my-btc")

    # Max: Kraken takes its fee out of the amount, so the whole balance can go.
    page.get_by_role("button", name="Max").click()
    available = Balance.objects.get(user__email=account["email"], user__exchange="kraken", currency="BTC").available
    expect(page.locator("#id_amount")).to_have_value(f"{available.normalize():f}")
    expect(page.locator("#id_currency")).to_have_value("BTC")
    expect(page.locator("#id_chain")).to_have_count(0)  # a saved address carries its network
    expect(page.get_by_role("button", name="Preview fees")).to_have_count(1)  # the default button is not shown
    page.screenshot(path=f"/tmp/withdrawal-kraken-details-{viewport['width']}.png", full_page=True)
    page.locator("#id_amount").press("Enter")  # Enter previews; it does not press "Max"
    expect(page.locator("#fee-rule")).to_contain_text("The fees are taken out of the amount")
    expect(page.locator("#total-debit")).to_have_text(f"{available.normalize():f} BTC")
