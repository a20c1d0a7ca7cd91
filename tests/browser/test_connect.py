import pytest
from playwright.sync_api import expect

from .conftest import sign_in

pytestmark = pytest.mark.browser


def test_connect_kucoin_through_the_sandbox_consent_page(live_server, page, demo):
    sign_in(page, live_server, demo)
    card = page.locator('[data-exchange="kucoin"]')
    card.get_by_role("link", name="Connect KuCoin").click()

    expect(page.get_by_role("heading", name="Connect KuCoin")).to_be_visible()
    page.get_by_label("Withdrawal").check()
    page.get_by_role("button", name="Continue to KuCoin").click()

    account = demo["sandbox_accounts"]["kucoin"][0]
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")
    page.check("#scope-api_withdraw_oauth")
    page.click("#approve")

    expect(page.get_by_text("KuCoin is connected.")).to_be_visible()
    card = page.locator('[data-exchange="kucoin"]')
    expect(card.locator(".status")).to_have_text("Active")
    expect(card).to_contain_text("API_WITHDRAW_OAUTH")
    expect(card.locator('tr[data-currency="USDT"]')).to_be_visible()
    page.screenshot(path="/tmp/connected.png", full_page=True)
