"""The dashboard in Chromium at 1280 and 390 px: amounts as people read them, the total across exchanges with its
charts, "price unavailable" where an exchange quotes none (Peatio), and what a disconnected card says."""

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from connectors import balances
from connectors.models import ExchangeConnection
from sandbox.faults import fault_set

from .helpers import connect_at_sandbox, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_dashboard_totals_charts_and_a_disconnected_card(live_server, page, demo, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, demo)
    for exchange_id in ("kucoin", "peatio"):
        connect_at_sandbox(page, exchange_id, demo["sandbox_accounts"][exchange_id][0])

    kucoin, peatio = page.locator('[data-exchange="kucoin"]'), page.locator('[data-exchange="peatio"]')
    expect(kucoin.locator('tr[data-currency="BTC"] .amount')).to_have_text("3 BTC")  # main and trade_hf
    expect(kucoin.locator(".total")).to_have_text(re.compile(r"^≈ \d{1,3}(,\d{3})+\.\d\d USDT$"))
    kucoin_total = kucoin.locator(".total").inner_text()
    expect(kucoin.locator(".as-of")).to_contain_text("Balances as of")
    expect(peatio.locator('tr[data-currency="BTC"]')).to_contain_text("price unavailable")
    expect(peatio.locator(".price-unavailable")).to_contain_text("Total: price unavailable for BTC")
    currencies = kucoin.locator("tr[data-currency]").evaluate_all("rows => rows.map(r => r.dataset.currency)")
    assert currencies == sorted(currencies)

    portfolio = page.locator(".portfolio")
    expect(portfolio.locator(".unpriced")).to_contain_text("price unavailable: BTC")
    expect(portfolio.locator('.chart tr[data-label="KuCoin"]')).to_be_visible()
    expect(portfolio.locator('.chart tr[data-label="BTC"]')).to_be_visible()
    width = portfolio.locator('.chart tr[data-label="KuCoin"] rect').evaluate("r => r.getBoundingClientRect().width")
    assert width > 20  # the largest exchange's bar is drawn, not an empty chart
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=f"/tmp/dashboard-totals-{viewport['width']}.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    peatio.get_by_role("button", name="Disconnect").click()
    expect(peatio.locator(".disconnected")).to_contain_text("You disconnected Peatio Exchange on")
    expect(page.locator(".portfolio .unpriced")).to_have_count(0)  # only KuCoin's balances remain, all priced
    expect(page.locator(".portfolio .total-all")).to_have_text(kucoin_total)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=f"/tmp/dashboard-disconnected-{viewport['width']}.png", full_page=True)


def test_the_dashboard_speaks_the_tenants_reference_currency(live_server, page, demo):
    from broker_portal.models import Tenant

    Tenant.objects.filter(name="Demo Broker").update(reference_currency="USDC")
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, demo)
    connect_at_sandbox(page, "kucoin", demo["sandbox_accounts"]["kucoin"][0])

    kucoin = page.locator('[data-exchange="kucoin"]')
    in_usdc = re.compile(r"^≈ \d{1,3}(,\d{3})+\.\d\d USDC$")
    expect(kucoin.locator(".total")).to_have_text(in_usdc)
    expect(kucoin.locator('tr[data-currency="BTC"] td.muted')).to_have_text(re.compile(r" USDC$"))
    expect(page.locator(".portfolio .total-all")).to_have_text(in_usdc)
    expect(page.locator(".portfolio .chart figcaption")).to_have_text(["By exchange (USDC)", "By asset (USDC)"])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_card_whose_balances_are_being_read_fills_without_a_reload(live_server, page, demo, settings):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, demo)
    connect_at_sandbox(page, "kucoin", demo["sandbox_accounts"]["kucoin"][0])
    connection = ExchangeConnection.objects.get(exchange="kucoin")
    settings.BALANCES_PAGE_WAIT_SECONDS = 0.05  # production's: the page does not wait for a slow read
    cache.delete(balances.snapshot_key(connection.pk))  # nothing read yet, as for a new connection
    fault_set(exchange="kucoin", endpoint="accounts", kind="slow", delay_seconds=3, count=1)

    page.goto(f"{live_server.url}/")
    kucoin = page.locator('[data-exchange="kucoin"]')
    expect(kucoin.locator(".balances-pending")).to_contain_text("Reading your balances at KuCoin")
    expect(kucoin.locator(".reload-hint")).to_be_hidden()  # the script reads them; without it the hint stays
    page.evaluate("window.notReloaded = true")

    expect(kucoin.locator('tr[data-currency="BTC"] .amount')).to_have_text("3 BTC", timeout=20_000)
    expect(kucoin.locator(".balances-pending")).to_have_count(0)
    assert page.evaluate("window.notReloaded === true")  # the card alone was refreshed
    assert kucoin.get_attribute("data-live-refresh") is None  # and the polling stopped
