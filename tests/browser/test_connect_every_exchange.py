"""Each exchange of the demo connects in Chromium through its sandbox consent page and shows an active card."""

import pytest
from playwright.sync_api import expect

from .helpers import connect_at_sandbox, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("exchange_id", ["kucoin", "okx", "kraken", "peatio"])
@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_each_exchange_connects_in_the_browser(live_server, page, demo, exchange_id, viewport):
    page.set_viewport_size(viewport)
    account = demo["sandbox_accounts"][exchange_id][0]
    sign_in(page, live_server, demo)
    card = page.locator(f'[data-exchange="{exchange_id}"]')
    connect_at_sandbox(page, exchange_id, account)
    expect(card.locator(".status")).to_have_text("Active")
    expect(card.locator('tr[data-currency="BTC"]')).to_be_visible()
