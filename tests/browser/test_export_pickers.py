"""The staff's export form in Chromium, on a desktop and a phone: the user and connection pickers suggest the
tenant's matches as one types (from the picker's JSON), and a picked one scopes the export."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from broker_portal.models import Tenant, User
from connectors.models import ExchangeConnection
from exports.models import ExportJob

from .helpers import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_the_accountant_picks_a_user_and_a_connection_from_suggestions(live_server, page, demo, viewport):
    page.set_viewport_size(viewport)
    accountant = sign_in(page, live_server, demo, role="accountant")
    page.fill("input[name=code]", pyotp.TOTP(accountant["totp_secret"]).now())
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.goto(f"{live_server.url}/exports/")
    member = next(u for t in demo["tenants"] if t["name"] == "Demo Broker" for u in t["users"] if u["role"] == "member")
    connection = ExchangeConnection.objects.create(
        tenant=Tenant.objects.get(name="Demo Broker"), user=User.objects.get(email=member["email"]), exchange="okx"
    )

    page.locator("#id_user").press_sequentially(member["email"][:4], delay=50)
    expect(page.locator("#picker-users option")).not_to_have_count(0)
    assert member["email"] in page.locator("#picker-users option").evaluate_all("o => o.map(x => x.value)")
    page.locator("#id_connection").press_sequentially(member["email"][:4], delay=50)
    suggestion = f"#{connection.pk} OKX — {member['email']}"
    expect(page.locator("#picker-connections option[value='" + suggestion + "']")).to_have_count(1)

    page.select_option("#id_scope", "connection")
    page.fill("#id_connection", suggestion)
    page.fill("#id_date_from", "2025-01-01")
    page.fill("#id_date_to", "2025-12-31")
    page.get_by_role("button", name="Request export").click()
    # Nothing is synced for the new connection: the page warns before an empty file, and the picks are kept.
    page.locator("#allow-empty input").check()
    expect(page.locator("#id_connection")).to_have_value(suggestion)
    page.get_by_role("button", name="Request export").click()
    expect(page).to_have_url(re.compile(r"/exports/\d+/$"))
    assert ExportJob.objects.get().scope_connection_id == connection.pk
