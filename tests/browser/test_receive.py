"""A user views a deposit address on KuCoin, OKX and Kraken in Chromium, on a desktop and at a phone's 390 px:
connect, open Receive from the dashboard card, choose the asset and then its network, create the address where the
exchange makes them, copy it; a memo chain shows its memo with the warning. The page never scrolls sideways."""

import pytest
from playwright.sync_api import expect

from broker_portal.models import AuditEvent
from connectors.exchanges import EXCHANGES

from .helpers import connect_at_sandbox, sign_in

pytestmark = pytest.mark.browser

# The network each exchange names USDT's TRC20 and TON by, and whether the portal creates the address there.
NETWORKS = {
    "kucoin": ("trx", "ton", True),
    "okx": ("USDT-TRC20", "USDT-TON", False),
    "kraken": ("Tether (TRC20)", "Tether (TON)", True),
}


def connect(page, exchange_id, account):
    # Kraken's DepositMethods needs the key's Deposit permission (spot-rest openapi_v3.yaml).
    connect_at_sandbox(page, exchange_id, account, permissions=("Deposit",) if exchange_id == "kraken" else ())


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def show(page, network):
    page.fill("#asset", "USDT")
    page.get_by_role("button", name="Show networks").click()
    page.select_option("#network", value=network)
    page.get_by_role("button", name="Show address").click()


@pytest.mark.parametrize("exchange_id", list(NETWORKS))
@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_a_user_views_a_deposit_address(live_server, page, demo, exchange_id, viewport):
    page.set_viewport_size(viewport)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    trc20, ton, portal_creates = NETWORKS[exchange_id]
    name = EXCHANGES[exchange_id].name
    account = next(item for item in demo["sandbox_accounts"][exchange_id] if item["email"].startswith("trader@"))
    sign_in(page, live_server, demo)
    connect(page, exchange_id, account)

    page.locator(f'[data-exchange="{exchange_id}"]').get_by_role("link", name="Receive").click()
    expect(page.get_by_role("heading", name=f"Receive on {name}")).to_be_visible()
    show(page, trc20)
    section = page.locator(".deposit-address")
    if portal_creates:
        expect(section.locator(".no-address")).to_contain_text("no USDT address")
        assert no_sideways_scroll(page)
        section.get_by_role("button", name="Create an address").click()
        expect(page.get_by_text("A new USDT address on")).to_be_visible()
    address = page.locator("#deposit-address")
    expect(address).to_be_visible()
    assert address.inner_text().startswith("T")
    expect(section.locator(".minimum")).to_have_text("Minimum deposit: 1 USDT. A smaller deposit is not credited.")
    expect(page.locator(".memo-warning")).to_have_count(0)
    section.get_by_role("button", name="Copy address").click()
    expect(section.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == address.inner_text()
    assert no_sideways_scroll(page)

    # A memo chain: the memo is shown beside the address, with the warning that it must be sent.
    page.select_option("#network", value=ton)
    page.get_by_role("button", name="Show address").click()
    if portal_creates:
        section.get_by_role("button", name="Create an address").click()
    expect(page.locator(".memo-warning")).to_contain_text("Memo required.")
    assert page.locator("#deposit-memo").inner_text().isdigit()
    assert no_sideways_scroll(page)
    created = AuditEvent.objects.filter(action="connection.deposit_address_created", details__exchange=exchange_id)
    assert created.count() == (2 if portal_creates else 0)
