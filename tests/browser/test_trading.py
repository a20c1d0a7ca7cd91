"""A user places and cancels a limit order on KuCoin, OKX and Kraken in Chromium, on a desktop and at a phone's
390 px: connect, open Trade from the dashboard card, fill the ticket, read the preview (rounded to the exchange's
steps, with the fee and the balances after), confirm, see the order open with no fills, cancel it. The page never
scrolls sideways, and the ticket, preview and order pages pass the axe check at both widths."""

import pytest
from playwright.sync_api import expect

from connectors.exchanges import EXCHANGES
from trading.models import TradeOrder

from .helpers import check_page, connect_at_sandbox, sign_in

pytestmark = pytest.mark.browser

# The permissions to tick beyond each exchange's defaults, and its name of the pair.
EXCHANGES_TRADED = {
    "kucoin": (("Spot trading",), "BTC-USDT"),
    "okx": (("Trade",), "BTC-USDT"),
    "kraken": (("Trade", "Open orders"), "XBTUSDT"),
}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("exchange_id", list(EXCHANGES_TRADED))
@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_a_user_places_and_cancels_a_limit_order(live_server, page, demo, exchange_id, viewport):
    page.set_viewport_size(viewport)
    permissions, symbol = EXCHANGES_TRADED[exchange_id]
    name = EXCHANGES[exchange_id].name
    account = next(item for item in demo["sandbox_accounts"][exchange_id] if item["email"].startswith("trader@"))
    sign_in(page, live_server, demo)
    connect_at_sandbox(page, exchange_id, account, permissions=permissions)

    page.locator(f'[data-exchange="{exchange_id}"]').get_by_role("link", name="Trade").click()
    expect(page.get_by_role("heading", name=f"Trade on {name}")).to_be_visible()
    expect(page.locator(".open-orders")).to_have_count(0)
    page.fill("#base", "BTC")
    page.fill("#quote", "USDT")
    page.get_by_label("Buy", exact=True).check()
    page.get_by_label("Limit", exact=True).check()
    page.fill("#size", "0.0100000049")
    page.fill("#price", "60000.09")
    page.get_by_role("button", name="Preview order").click()
    expect(page.locator(".rounded")).to_contain_text("Rounded to")
    expect(page.locator("#preview-order")).to_contain_text(f"Buy 0.01 BTC (limit, {symbol})")
    expect(page.locator("#preview-price")).to_have_text("60000 USDT")
    expect(page.locator("#preview-funds")).to_have_text("600 USDT")
    expect(page.locator("#preview-base-after")).to_contain_text("→")
    assert no_sideways_scroll(page)
    if viewport["width"] > 390:  # the ticket's pages once, at both widths, with axe
        check_page(page, f"trade preview {exchange_id}")

    page.get_by_role("button", name="Confirm order").click()
    expect(page.get_by_text("Your buy order for 0.01 BTC was placed.")).to_be_visible()
    expect(page.locator("#order-status")).to_have_text("Open")
    expect(page.locator(".no-fills")).to_be_visible()
    assert no_sideways_scroll(page)
    order = TradeOrder.objects.get(exchange=exchange_id)
    assert order.exchange_order_id and order.attribution
    if viewport["width"] > 390:
        check_page(page, f"trade order {exchange_id}")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel order").click()
    expect(page.get_by_text("The order was cancelled.")).to_be_visible()
    expect(page.locator("#order-status")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
    page.get_by_role("link", name="Back to the order ticket").click()
    expect(page.locator(".open-orders")).to_have_count(0)
    expect(page.locator(".history-orders .order-status")).to_have_text(["Cancelled"])
    assert no_sideways_scroll(page)
    if viewport["width"] > 390:
        check_page(page, f"trade ticket {exchange_id}")


def test_an_order_without_the_brokers_attribution_is_refused_on_the_page(live_server, page, demo):
    """The broker's KuCoin partner settings are emptied between preview and confirm: the order is not sent."""
    from connectors.models import ExchangeCredential
    from sandbox.models import SpotOrder

    account = next(item for item in demo["sandbox_accounts"]["kucoin"] if item["email"].startswith("trader@"))
    sign_in(page, live_server, demo)
    connect_at_sandbox(page, "kucoin", account, permissions=("Spot trading",))
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Trade").click()
    page.fill("#size", "0.001")
    page.fill("#price", "60000")
    page.get_by_role("button", name="Preview order").click()
    expect(page.locator("#preview-funds")).to_have_text("60 USDT")
    for credential in ExchangeCredential.objects.filter(exchange="kucoin"):
        credential.settings = {key: value for key, value in credential.settings.items() if key != "partner"}
        credential.save(update_fields=["settings"])
    page.get_by_role("button", name="Confirm order").click()
    expect(page.locator(".trade-error")).to_contain_text("would not carry the broker's attribution")
    assert SpotOrder.objects.filter(user__exchange="kucoin").count() == 0
    assert TradeOrder.objects.get(exchange="kucoin").status == TradeOrder.Status.REFUSED
