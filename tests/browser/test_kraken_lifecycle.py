"""Kraken connected and disconnected in the browser: afterwards the sandbox holds no live Fast API key for the
user, since the portal deletes its key by name (krakenfx/api-specs oauth/openapi_v3.yaml, removeFastApikey)."""

import pytest
from playwright.sync_api import expect

from connectors.models import ExchangeConnection
from sandbox.models import ApiKey as SandboxKey
from tests.sandbox.support import kraken_private

from .helpers import sign_in

pytestmark = pytest.mark.browser


def test_connect_then_disconnect_kraken_leaves_no_live_key_at_the_exchange(live_server, page, demo):
    sign_in(page, live_server, demo)
    account = next(item for item in demo["sandbox_accounts"]["kraken"] if item["email"].startswith("trader@"))
    card = page.locator('[data-exchange="kraken"]')
    card.get_by_role("link", name="Connect Kraken").click()
    expect(page.get_by_role("heading", name="Connect Kraken")).to_be_visible()
    page.get_by_role("button", name="Continue to Kraken").click()
    # The authorization page in the portal's language, one of those Kraken lists.
    assert "/sandbox/kraken/en-us/oauth/authorize" in page.url
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")
    page.click("#approve")
    expect(page.get_by_text("Kraken is connected.")).to_be_visible()
    expect(card.locator(".status")).to_have_text("Active")

    connection = ExchangeConnection.objects.get(exchange="kraken")
    live = SandboxKey.objects.filter(exchange="kraken", user__email=account["email"], deleted_at__isnull=True)
    key = live.get()
    assert connection.api_key == key.api_key and connection.details["api_key_name"] == key.name
    assert connection.exchange_account_id  # userinfo's IIBAN

    page.once("dialog", lambda dialog: dialog.accept())  # "Disconnect Kraken? Its API key is deleted."
    card.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_text("Kraken is disconnected")).to_be_visible()
    expect(card.locator(".status")).to_have_text("Revoked")

    assert not live.exists()
    # The key itself is refused at the exchange, as a deleted key is.
    refused = kraken_private(
        f"{live_server.url}/sandbox/kraken", {"api_key": key.api_key, "secret": key.secret}, "Balance"
    )
    assert refused.json()["error"] == ["EAPI:Invalid key"]
