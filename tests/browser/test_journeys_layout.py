"""Every page of each role's journey in Chromium, on a desktop (1280 px) and a phone (390 px): a screenshot of each
in the test artifacts, no serious or critical axe-core violation, and no sideways scrolling on the phone.

End user: sign-in (and its error), sign-up, password reset, dashboard, connect (and a denied consent), receive, the
withdrawal wizard from details (and their errors) to its completed status, the withdrawals list, exports, API tokens
and the account and MFA pages. Staff: the accountant's exports and an export's page; the broker admin's admin index,
each changelist it links to and a change form. A pale brand: connect, dashboard, preview, a connection to reconnect
and the unavailable withdraw and receive pages."""

import re
import time

import pyotp
import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from playwright.sync_api import expect

from broker_portal.demo import DEMO_PASSWORD
from broker_portal.models import Tenant, User
from connectors.models import ExchangeConnection
from sandbox import clock
from tests.connectors.helpers import PortalBrowser
from withdrawals import tasks
from withdrawals.models import Withdrawal

from .helpers import (
    check_page,
    chosen_permissions,
    confirm_with_authenticator,
    connect_at_sandbox,
    connect_kucoin,
    fill_kucoin_withdrawal_details,
    sign_in,
    submit_with_kucoin_codes,
    tick_at_kucoin,
)

pytestmark = pytest.mark.browser

PORTAL_TOTP_SECRET = "JBSWY3DPEHPK3PXPLAYOUTSA"


def sign_in_staff(page, live_server, demo, role):
    staff = sign_in(page, live_server, demo, role=role)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    check_page(page, f"{role} two-factor sign-in")
    page.fill("input[name=code]", pyotp.TOTP(staff["totp_secret"]).now())
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    return staff


def skip_link_reaches_the_content(page):
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def menu_collapses_on_a_phone(page):
    nav = page.get_by_role("navigation", name="Main")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_hidden()
    expect(nav.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Withdrawals")).not_to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Withdrawals")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        expect(nav.get_by_role("link", name="Withdrawals")).to_be_hidden()
        expect(menu).to_have_attribute("aria-expanded", "false")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(nav.get_by_role("link", name="Withdrawals")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        menu.click()
        expect(nav.get_by_role("link", name="Withdrawals")).to_be_hidden()
        menu.click()
        nav.get_by_role("link", name="Dashboard").focus()
        page.keyboard.press("Escape")
        expect(nav.get_by_role("link", name="Withdrawals")).to_be_hidden()
        expect(menu).to_be_focused()
    finally:
        page.set_viewport_size({"width": 1280, "height": 720})


def a_table_row_is_a_labelled_card_on_a_phone(page, resize=True):
    row = page.locator("main table tr").nth(1)
    if resize:
        page.set_viewport_size({"width": 390, "height": 844})
    try:
        expect(page.locator("main table tr").first).not_to_be_in_viewport()
        cells = row.locator("td")
        expect(cells.first).to_have_attribute("data-label", "Started")
        # One card per row: its cells stack, so the second sits below the first rather than beside it.
        first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
        assert second["y"] >= first["y"] + first["height"] - 1 and second["x"] == first["x"]
        label = cells.first.evaluate("cell => getComputedStyle(cell, '::before').content")
        assert label == '"Started"'
    finally:
        if resize:
            page.set_viewport_size({"width": 1280, "height": 720})


def test_end_user_journey_fits_a_phone_and_passes_axe(live_server, page, demo):
    page.goto(f"{live_server.url}/accounts/login/")
    check_page(page, "sign-in")
    page.fill("input[name=login]", "user@demo.example")
    page.fill("input[name=password]", "not-the-password")
    page.get_by_role("button", name="Sign In").click()
    check_page(page, "sign-in error")
    page.goto(f"{live_server.url}/accounts/signup/")
    check_page(page, "sign-up")
    page.goto(f"{live_server.url}/accounts/password/reset/")
    check_page(page, "password reset")

    member = sign_in(page, live_server, demo)
    expect(page.get_by_role("heading", name="Your exchanges")).to_be_visible()
    check_page(page, "dashboard")
    skip_link_reaches_the_content(page)
    menu_collapses_on_a_phone(page)

    # Connect, deny at the exchange, then connect for real.
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Connect KuCoin").click()
    check_page(page, "connect start")
    page.get_by_role("button", name="Continue to KuCoin").click()
    account = next(a for a in demo["sandbox_accounts"]["kucoin"] if a["email"].startswith("trader@"))
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")
    page.click("#deny")
    check_page(page, "connect denied")
    # The sandbox remembers the sign-in (it shares the portal's session), so this time it goes straight to consent.
    page.goto(f"{live_server.url}/")
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Connect KuCoin").click()
    page.get_by_label("Withdrawal").check()
    chosen = chosen_permissions(page)
    page.get_by_role("button", name="Continue to KuCoin").click()
    tick_at_kucoin(page, chosen)
    page.click("#approve")
    expect(page.get_by_text("KuCoin is connected.")).to_be_visible()
    check_page(page, "dashboard connected")

    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Receive").click()
    check_page(page, "receive")

    # The withdrawal wizard: details (with an error first), preview, step-up, verify, status.
    page.goto(f"{live_server.url}/")
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Withdraw").click()
    check_page(page, "withdrawal details")
    page.get_by_role("button", name="Preview fees").click()
    expect(page.locator("#id_amount")).to_have_attribute("aria-describedby", "id_amount_error")
    expect(page.locator("#id_amount_error")).not_to_be_empty()
    check_page(page, "withdrawal details errors")
    page.goto(f"{live_server.url}/")
    fill_kucoin_withdrawal_details(page)
    check_page(page, "withdrawal preview")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#mfa-required")).to_be_visible()
    check_page(page, "withdrawal step-up required")
    page.locator("#mfa-setup").click()
    check_page(page, "totp activate")
    TOTP.activate(User.objects.get(email=member["email"]), PORTAL_TOTP_SECRET)
    RecoveryCodes.activate(User.objects.get(email=member["email"]))
    page.go_back()
    page.get_by_role("link", name="I have set it up").click()
    check_page(page, "withdrawal step-up confirm")
    # A code an hour old first: the refusal is tied to the code field.
    confirm_with_authenticator(page, pyotp.TOTP(PORTAL_TOTP_SECRET).at(time.time() - 3600))
    expect(page.locator("#id_code_error")).to_contain_text("The authenticator code is not valid")
    check_page(page, "withdrawal step-up code refused")
    page.fill("input[name=code]", pyotp.TOTP(PORTAL_TOTP_SECRET).now())
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#request-codes")).to_be_visible()
    check_page(page, "withdrawal verify")
    submit_with_kucoin_codes(page, f"{live_server.url}/sandbox", account)
    expect(page.locator("#withdrawal-state")).to_have_text("Processing at the exchange")
    check_page(page, "withdrawal status")
    # The status refetches itself while the exchange works (no reload, so the page keeps its place).
    page.evaluate("window.notReloaded = true")
    clock.set_offset(31)
    try:
        tasks.withdrawal_poll(Withdrawal.objects.get().pk)
    finally:
        clock.set_offset(0)
    expect(page.locator("#withdrawal-state")).to_have_text("Completed", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    check_page(page, "withdrawal completed")
    page.get_by_role("link", name="All withdrawals").click()
    check_page(page, "withdrawals")
    a_table_row_is_a_labelled_card_on_a_phone(page)

    page.goto(f"{live_server.url}/api/tokens/")
    page.get_by_role("button", name="Create token").click()
    check_page(page, "api token name missing")
    page.get_by_label("Name").fill("Back office reconciliation")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_be_visible()
    check_page(page, "api token created")
    for name, path in [
        ("exports", "/exports/"),
        ("api tokens", "/api/tokens/"),
        ("security", "/accounts/2fa/"),
        ("recovery codes", "/accounts/2fa/recovery-codes/"),
        ("email", "/accounts/email/"),
        ("password change", "/accounts/password/change/"),
        ("sign out", "/accounts/logout/"),
    ]:
        page.goto(f"{live_server.url}{path}")
        check_page(page, name)


def test_accountant_journey_fits_a_phone_and_passes_axe(live_server, page, demo):
    # A member's KuCoin connection, so the synced-history table has a row (and its coverage row) to show.
    member = PortalBrowser(live_server.url)
    member.sign_in("user@demo.example", DEMO_PASSWORD)
    trader = next(a for a in demo["sandbox_accounts"]["kucoin"] if a["email"].startswith("trader@"))
    assert member.connect("kucoin", trader).status_code == 302

    sign_in_staff(page, live_server, demo, "accountant")
    check_page(page, "accountant dashboard")
    page.get_by_role("link", name="Exports").click()
    expect(page.get_by_role("button", name="Sync now")).to_be_visible()
    check_page(page, "accountant exports")
    # On a phone the connection's coverage row continues its card: no gap between the two.
    page.set_viewport_size({"width": 390, "height": 844})
    connection_row = page.locator("tr", has=page.get_by_role("button", name="Sync now"))
    coverage_row = page.locator("tr.coverage")
    expect(coverage_row).to_have_class(re.compile(r"\bcontinues\b"))
    above, below = connection_row.bounding_box(), coverage_row.bounding_box()
    assert abs(above["y"] + above["height"] - below["y"]) < 1
    page.set_viewport_size({"width": 1280, "height": 720})
    page.select_option("#id_scope", "tenant")
    page.get_by_role("button", name="Request export").click()
    # Nothing synced falls in the range: the page warns before an empty file.
    expect(page.locator("#allow-empty")).to_be_visible()
    check_page(page, "accountant export empty warning")
    page.locator("#allow-empty input").check()
    page.get_by_role("button", name="Request export").click()
    expect(page.locator("#export-status")).to_be_visible()
    check_page(page, "accountant export")
    page.get_by_role("link", name="Exports", exact=True).click()
    expect(page.locator("#export-jobs")).to_be_visible()
    check_page(page, "accountant exports with a job")


def test_broker_admin_journey_fits_a_phone_and_passes_axe(live_server, page, demo):
    sign_in_staff(page, live_server, demo, "broker_admin")
    page.get_by_role("link", name="Administration").click()
    check_page(page, "admin index")
    links = page.locator("#content-main a[href$='/']:not(.addlink):not(.changelink)")
    changelists = sorted(
        {href for href in links.evaluate_all("links => links.map(link => link.pathname)") if href.count("/") == 4}
    )
    assert len(changelists) >= 5
    for path in changelists:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("#changelist")).to_be_visible()
        check_page(page, f"admin {path.strip('/').removeprefix('admin/').replace('/', ' ')}")
    # A change form: the tenant's own settings.
    page.goto(f"{live_server.url}/admin/broker_portal/tenant/")
    page.locator("#result_list tbody a").first.click()
    expect(page.locator("#content-main form")).to_be_visible()
    check_page(page, "admin tenant change")


def test_a_pale_brand_still_reads(live_server, page, demo):
    """A broker's yellow brand and accent: links, the current wizard step, the "Active" status and the text on its
    buttons use the derived shades, so axe finds no contrast failure."""
    Tenant.objects.filter(slug="demo").update(primary_color="#ffe066", accent_color="#f5f500")
    sign_in(page, live_server, demo)
    account = next(a for a in demo["sandbox_accounts"]["kucoin"] if a["email"].startswith("trader@"))
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Connect KuCoin").click()
    check_page(page, "pale brand connect start")
    page.go_back()
    connect_kucoin(page, account)
    check_page(page, "pale brand dashboard")
    fill_kucoin_withdrawal_details(page)
    check_page(page, "pale brand withdrawal preview")

    # The exchange asks the user to reconnect: the dashboard's status in the error colour, and the pages that say
    # why withdrawing and receiving are unavailable.
    connection = ExchangeConnection.objects.get(exchange="kucoin")
    ExchangeConnection.objects.filter(pk=connection.pk).update(status=ExchangeConnection.Status.NEEDS_REAUTHORIZATION)
    page.goto(f"{live_server.url}/")
    expect(page.locator('[data-exchange="kucoin"] .status-needs_reauthorization')).to_be_visible()
    check_page(page, "dashboard needs reauthorization")
    for name, path in [
        ("withdrawal unavailable", f"/withdrawals/new/{connection.pk}/"),
        ("receive unavailable", f"/receive/{connection.pk}/"),
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_text("not active")).to_be_visible()
        check_page(page, name)


def test_tables_are_labelled_cards_on_a_phone_without_scripts(live_server, browser, demo):
    from tests.withdrawals.helpers import connection_of, withdrawal_of

    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        member = User.objects.get(email=sign_in(page, live_server, demo)["email"])
        tenant = Tenant.objects.get(name="Demo Broker")
        withdrawal_of(connection_of(member, tenant))
        page.goto(f"{live_server.url}/withdrawals/")
        a_table_row_is_a_labelled_card_on_a_phone(page, resize=False)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def test_the_dashboards_balances_are_labelled_cards_on_a_phone_without_scripts(live_server, browser, demo):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server, demo)
        connect_at_sandbox(page, "kucoin", demo["sandbox_accounts"]["kucoin"][0])
        btc = page.locator('[data-exchange="kucoin"] tr[data-currency="BTC"]')
        for _ in range(40):  # without scripts the card asks for a reload until its first read is in
            if btc.count():
                break
            page.wait_for_timeout(250)
            page.reload()
        cells = btc.locator("td")
        expect(cells).to_have_count(3)
        expect(cells.nth(1)).to_have_attribute("data-label", "Amount")
        assert cells.nth(1).evaluate("cell => getComputedStyle(cell, '::before').content") == '"Amount"'
        first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
        assert second["y"] >= first["y"] + first["height"] - 1 and second["x"] == first["x"]
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
