"""Each exchange of the demo connects in Chromium through its sandbox consent page and shows an active card."""

import pytest
from playwright.sync_api import expect

from connectors.exchanges import EXCHANGES

from .conftest import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("exchange_id", ["kucoin", "okx", "kraken", "peatio"])
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_each_exchange_connects_in_the_browser(live_server, page, demo, exchange_id, viewport):
    page.set_viewport_size(viewport)
    name = EXCHANGES[exchange_id].name
    account = demo["sandbox_accounts"][exchange_id][0]
    sign_in(page, live_server, demo)
    card = page.locator(f'[data-exchange="{exchange_id}"]')
    card.get_by_role("link", name=f"Connect {name}").click()
    page.get_by_role("button", name=f"Continue to {name}").click()
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")
    page.click("#approve")
    expect(page.get_by_text(f"{name} is connected.")).to_be_visible()
    expect(card.locator(".status")).to_have_text("Active")
    expect(card.locator('tr[data-currency="BTC"]')).to_be_visible()
