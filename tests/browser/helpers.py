"""What the browser tests do on a page: check it at both widths under axe, sign in, connect at the sandbox,
withdraw."""

import json
import os
import re
from pathlib import Path

import pyotp
import requests
from playwright.sync_api import expect

# Where the browser tests write their screenshots (git-ignored; CI keeps the folder as an artifact).
ARTIFACTS = Path(os.environ.get("PORTAL_TEST_ARTIFACTS", "test-artifacts"))
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# axe-core's impact levels that fail a page (https://github.com/dequelabs/axe-core/blob/develop/doc/API.md).
FAILING_IMPACTS = {"serious", "critical"}


def axe_violations(page) -> list[dict]:
    """axe-core (bundled by axe-playwright-python, so it runs offline) on the page as it stands: its serious and
    critical violations, each with the elements it found."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        {
            "id": item["id"],
            "impact": item["impact"],
            "help": item["help"],
            "nodes": [node["target"] for node in item["nodes"]],
        }
        for item in results.response["violations"]
        if item["impact"] in FAILING_IMPACTS
    ]


# Each field marked invalid, with the ids its aria-describedby names that hold no text on the page.
UNTIED_ERRORS = """() => Array.from(document.querySelectorAll('[aria-invalid="true"]')).map(field => [
  field.name || field.id,
  (field.getAttribute("aria-describedby") || "").split(" ").filter(id => id)
    .filter(id => (document.getElementById(id) || {textContent: ""}).textContent.trim()),
]).filter(([, described]) => !described.length).map(([field]) => field)"""


def check_page(page, name: str) -> None:
    """The page at a desktop's 1280 px and a phone's 390 px: a full-page screenshot of each in ARTIFACTS/<name>-
    <viewport>.png, no serious or critical axe violation at either, no sideways scrolling on the phone, and every
    field marked invalid tied (aria-describedby) to the text of its error.
    The viewport is restored afterwards, so a journey calls this on each page it reaches and goes on."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    before = page.viewport_size
    untied = page.evaluate(UNTIED_ERRORS)
    assert not untied, f"{name}: fields marked invalid whose error no aria-describedby names: {untied}"
    try:
        for viewport_name, viewport in VIEWPORTS.items():
            page.set_viewport_size(viewport)
            page.screenshot(path=str(ARTIFACTS / f"{stem}-{viewport_name}.png"), full_page=True)
            violations = axe_violations(page)
            assert not violations, f"{name} at {viewport['width']} px: {json.dumps(violations, indent=1)}"
            if viewport_name == "phone":
                widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                assert widths[0] <= widths[1], f"{name} scrolls sideways at 390 px: {widths[0]} px wide"
    finally:
        if before:
            page.set_viewport_size(before)


def connect_kucoin(page, account, *, withdrawal: bool = True):
    """Dashboard → permission page → the sandbox's sign-in and consent → back on the dashboard."""
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Connect KuCoin").click()
    expect(page.get_by_role("heading", name="Connect KuCoin")).to_be_visible()
    if withdrawal:
        page.get_by_label("Withdrawal").check()
    chosen = chosen_permissions(page)
    page.get_by_role("button", name="Continue to KuCoin").click()
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")
    tick_at_kucoin(page, chosen)
    page.click("#approve")
    expect(page.get_by_text("KuCoin is connected.")).to_be_visible()


def chosen_permissions(page) -> list[str]:
    """The permission codes ticked on the portal's permission page."""
    return page.locator("input[name=permissions]:checked").evaluate_all("boxes => boxes.map(b => b.value)")


def tick_at_kucoin(page, chosen: list[str]):
    """KuCoin's page opens with its own defaults ticked: make its ticks the portal's choice, as the hint says."""
    for box in page.locator("#consent-form input[name=scope]").all():
        box.set_checked(box.get_attribute("value") in chosen)


def connect_at_sandbox(page, exchange_id: str, account, *, permissions: tuple[str, ...] = ()):
    """Dashboard → Connect → (the permissions to tick) → the sandbox's sign-in and consent → back, connected."""
    from connectors.exchanges import EXCHANGES

    name = EXCHANGES[exchange_id].name
    page.locator(f'[data-exchange="{exchange_id}"]').get_by_role("link", name=f"Connect {name}").click()
    for permission in permissions:
        page.get_by_label(permission, exact=True).check()
    chosen = chosen_permissions(page)
    page.get_by_role("button", name=f"Continue to {name}").click()
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")
    if exchange_id == "kucoin":
        tick_at_kucoin(page, chosen)
    page.click("#approve")
    expect(page.get_by_text(f"{name} is connected.")).to_be_visible()


def sign_in(page, live_server, demo, role="member", tenant_name="Demo Broker"):
    tenant = next(t for t in demo["tenants"] if t["name"] == tenant_name)
    user = next(u for u in tenant["users"] if u["role"] == role)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user["email"])
    page.fill("input[name=password]", user["password"])
    page.get_by_role("button", name="Sign In").click()
    return user


def fill_kucoin_withdrawal_details(page):
    """Dashboard → the wizard's details: 0.02 BTC to an address, fees from the balance → its preview."""
    page.locator('[data-exchange="kucoin"]').get_by_role("link", name="Withdraw").click()
    page.select_option("#id_currency", "BTC")
    page.select_option("#id_withdraw_type", "ADDRESS")
    page.select_option("#id_chain", "btc")
    page.fill("#id_destination", "bc1qchromiumtest0000")
    page.fill("#id_amount", "0.02")
    page.get_by_label("Fees from my balance").check()
    page.get_by_role("button", name="Preview fees").click()


def confirm_with_authenticator(page, code: str):
    page.get_by_role("button", name="Confirm with my authenticator").click()
    page.fill("input[name=code]", code)
    page.get_by_role("button", name="Confirm").click()


def submit_with_kucoin_codes(page, sandbox_url: str, account):
    """KuCoin's factors: it asks for GAV and EMV and e-mails the EMV code (read from the sandbox inbox); submit."""
    page.locator("#request-codes").click()
    expect(page.locator('[data-factor="EMV"]')).to_have_text("Sent to you just now.")
    expect(page.locator('[data-factor="GAV"]')).to_have_text("From your own device.")
    inbox = requests.get(
        f"{sandbox_url}/inbox/", params={"format": "json", "email": account["email"]}, timeout=10
    ).json()
    page.fill("#id_GAV", pyotp.TOTP(account["totp_secret"]).now())
    page.fill("#id_EMV", inbox[0]["code"])
    page.locator("#submit-withdrawal").click()
