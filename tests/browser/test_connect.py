import pytest
from playwright.sync_api import expect

from .conftest import connect_kucoin, sign_in

pytestmark = pytest.mark.browser


def test_connect_kucoin_through_the_sandbox_consent_page(live_server, page, demo):
    sign_in(page, live_server, demo)
    connect_kucoin(page, demo["sandbox_accounts"]["kucoin"][0])
    card = page.locator('[data-exchange="kucoin"]')
    expect(card.locator(".status")).to_have_text("Active")
    expect(card).to_contain_text("API_WITHDRAW_OAUTH")
    expect(card.locator('tr[data-currency="USDT"]')).to_be_visible()
    page.screenshot(path="/tmp/connected.png", full_page=True)
