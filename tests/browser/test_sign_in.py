import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_demo_end_user_signs_in_and_sees_the_dashboard(live_server, page, demo):
    tenant = next(t for t in demo["tenants"] if t["name"] == "Demo Broker")
    user = next(u for u in tenant["users"] if u["role"] == "member")

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=login]", user["email"])
    page.fill("input[name=password]", user["password"])
    page.get_by_role("button", name="Sign In").click()

    expect(page.get_by_role("heading", name="Your exchanges")).to_be_visible()
    expect(page.locator(".brand")).to_contain_text("Demo Broker")
    for exchange in ("KuCoin", "OKX", "Kraken"):
        expect(page.locator(".exchange h2", has_text=exchange)).to_be_visible()
    page.screenshot(path="/tmp/dashboard.png", full_page=True)
