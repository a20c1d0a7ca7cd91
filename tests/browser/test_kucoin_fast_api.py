"""Connecting KuCoin in Chromium against the sandbox's two KuCoin hosts, as the Fast API document describes them."""

import pytest
from playwright.sync_api import expect

from .helpers import chosen_permissions, sign_in, tick_at_kucoin

pytestmark = pytest.mark.browser


def leave_for_kucoin(page, live_server):
    page.goto(f"{live_server.url}/")
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Connect KuCoin").click()
    page.get_by_label("Withdrawal").check()
    page.get_by_role("button", name="Continue to KuCoin").click()


def test_kucoin_connect_on_the_www_host_guides_through_groups_that_differ(live_server, page, demo):
    sign_in(page, live_server, demo)
    leave_for_kucoin(page, live_server)
    # KuCoin's login page on its www host, asked only for OAUTH_CREATE_API, the redirect URL unencoded.
    assert f"{live_server.url}/sandbox/kucoin-www/oauth?" in page.url
    assert (
        "scope=OAUTH_CREATE_API&" in page.url and f"redirect_uri={live_server.url}/connect/kucoin/callback/" in page.url
    )
    account = demo["sandbox_accounts"]["kucoin"][0]
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")
    # Withdrawal was chosen at the portal but is left unticked on KuCoin's page, which ticks its own defaults:
    # the key request is refused (40503), in words that say what to tick, with a way to try again.
    expect(page.locator("#scope-api_withdraw_oauth")).not_to_be_checked()
    expect(page.locator("#scope-api_spot")).to_be_checked()
    page.click("#approve")
    expect(page.get_by_text("differ from the ones you chose here")).to_be_visible()
    expect(page.get_by_text("approve exactly these on KuCoin's page: General, Withdrawal.")).to_be_visible()
    page.get_by_role("link", name="Try again").click()

    # The permission page again, with the hint naming KuCoin's own defaults; this time KuCoin's ticks match.
    expect(page.locator("#consent-hint")).to_contain_text("General, Spot trading, Futures trading and KuCoin Earn")
    page.get_by_label("Withdrawal").check()
    chosen = chosen_permissions(page)
    assert chosen == ["API_COMMON", "API_WITHDRAW_OAUTH"]  # no trading group unless the user ticks one
    page.get_by_role("button", name="Continue to KuCoin").click()
    tick_at_kucoin(page, chosen)  # still signed in at KuCoin: straight to its consent page
    page.click("#approve")
    expect(page.get_by_text("KuCoin is connected.")).to_be_visible()
    card = page.locator('[data-exchange="kucoin"]')
    expect(card.locator(".status")).to_have_text("Active")
    expect(card.locator(".granted")).to_have_text("Granted: General, Withdrawal")
    # Balances came through signed calls on the api host, attributed with the broker's own name.
    expect(card.locator('tr[data-currency="USDT"]')).to_be_visible()
