import pytest
from playwright.sync_api import expect

from connectors.models import ExchangeConnection

from .helpers import connect_kucoin, sign_in

pytestmark = pytest.mark.browser


def test_connect_kucoin_through_the_sandbox_consent_page(live_server, page, demo):
    sign_in(page, live_server, demo)
    connect_kucoin(page, demo["sandbox_accounts"]["kucoin"][0])
    card = page.locator('[data-exchange="kucoin"]')
    expect(card.locator(".status")).to_have_text("Active")
    expect(card.locator(".granted")).to_have_text("Granted: General, Withdrawal")
    expect(card.locator('tr[data-currency="USDT"]')).to_be_visible()
    page.screenshot(path="/tmp/connected.png", full_page=True)


VIEWPORTS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]
VIEWPORT_IDS = ["desktop", "phone"]


def sign_in_at_kraken(page, account):
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_a_denied_authorization_offers_to_try_again(live_server, page, demo, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, demo)
    account = demo["sandbox_accounts"]["kraken"][0]
    page.locator('[data-exchange="kraken"]').get_by_role("link", name="Connect Kraken").click()
    page.get_by_role("button", name="Continue to Kraken").click()
    sign_in_at_kraken(page, account)
    page.click("#deny")
    expect(page.get_by_text("You declined the authorization at the exchange. Nothing was connected.")).to_be_visible()
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("heading", name="Connect Kraken")).to_be_visible()
    page.screenshot(path=f"/tmp/connect-try-again-{viewport['width']}.png", full_page=True)
    assert not ExchangeConnection.objects.exists()


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_least_permissions_by_default_then_a_reconnect_adds_withdrawal_in_place(live_server, page, demo, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, demo)
    account = next(item for item in demo["sandbox_accounts"]["kraken"] if item["email"].startswith("trader@"))
    card = page.locator('[data-exchange="kraken"]')
    card.get_by_role("link", name="Connect Kraken").click()
    # Nothing trades or withdraws by default.
    for label in ("Trade", "Cancel orders", "Withdraw"):
        expect(page.get_by_label(label, exact=True)).not_to_be_checked()
    page.get_by_role("button", name="Continue to Kraken").click()
    sign_in_at_kraken(page, account)
    # Kraken's page lists exactly the scopes asked for, ticked; withdrawal is not among them.
    expect(page.locator('input[name=scope][value="account.fast-api-key:funds-query"]')).to_be_checked()
    expect(page.locator('input[name=scope][value="account.fast-api-key:funds-withdraw"]')).to_have_count(0)
    page.click("#approve")
    expect(card.locator(".granted")).to_contain_text("Granted: Account details, Fast API key, Balances")
    connection = ExchangeConnection.objects.get()

    # Read-only → withdrawal: the card links to the permission page with the current grant and withdrawal ticked.
    card.get_by_role("link", name="Add withdrawal").click()
    expect(page.locator("#current-grant")).to_contain_text("Account details, Fast API key, Balances")
    for label in ("Account details", "Balances", "Ledger", "Withdraw"):
        expect(page.get_by_label(label, exact=True)).to_be_checked()
    expect(page.get_by_label("Trade", exact=True)).not_to_be_checked()
    page.screenshot(path=f"/tmp/connect-upgrade-{viewport['width']}.png", full_page=True)
    page.get_by_role("button", name="Continue to Kraken").click()
    expect(page.locator('input[name=scope][value="account.fast-api-key:funds-withdraw"]')).to_be_checked()
    page.click("#approve")
    expect(page.get_by_text("Kraken is connected.")).to_be_visible()
    expect(card.locator(".granted")).to_contain_text("Withdraw")
    expect(card.get_by_role("link", name="Withdraw", exact=True)).to_be_visible()
    upgraded = ExchangeConnection.objects.get()  # the same row, upgraded
    assert upgraded.pk == connection.pk and "account.fast-api-key:funds-withdraw" in upgraded.permissions
