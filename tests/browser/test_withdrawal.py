"""The whole withdrawal wizard in Chromium against the sandbox: details, preview, MFA step-up, KuCoin's
codes (authenticator and the e-mail from the sandbox inbox), submit, and the status to its final state."""

from decimal import Decimal

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP
from playwright.sync_api import expect

from broker_portal.models import User
from sandbox import clock
from sandbox.models import Balance
from withdrawals import tasks
from withdrawals.models import Withdrawal

from .conftest import (confirm_with_authenticator, connect_kucoin, fill_kucoin_withdrawal_details, sign_in,
                       submit_with_kucoin_codes)

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
    page.screenshot(path="/tmp/withdrawal.png", full_page=True)
