"""OKX's lifecycle in the browser: the connection lives by its Fast API key, so it stays active and keeps reading
balances after its one-hour access token has lapsed (okx/builder-integration-demo, demos/third-party-fastapi/
INTEGRATION_GUIDE.md: "The created API Key is the long-lived credential"), until the key itself is revoked."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from connectors.key_health import connection_check_api_key
from connectors.models import ExchangeConnection
from connectors.token_refresh import connections_sweep
from sandbox.models import ApiKey as SandboxKey

from .helpers import sign_in

pytestmark = pytest.mark.browser


def connect_okx(page, account):
    page.locator('[data-exchange="okx"]').get_by_role("link", name="Connect OKX").click()
    expect(page.get_by_role("heading", name="Connect OKX")).to_be_visible()
    page.get_by_role("button", name="Continue to OKX").click()
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("#sign-in")
    expect(page.locator("#scope-fast_api")).to_be_checked()  # the one scope asked for
    page.click("#approve")
    expect(page.get_by_text("OKX is connected.")).to_be_visible()


def test_okx_stays_active_and_reads_balances_after_its_access_token_lapsed(live_server, page, demo, mailoutbox):
    sign_in(page, live_server, demo)
    connect_okx(page, demo["sandbox_accounts"]["okx"][0])
    card = page.locator('[data-exchange="okx"]')
    expect(card.locator(".status")).to_have_text("Active")
    expect(card.locator('tr[data-currency="BTC"]')).to_be_visible()

    # Two hours on, at OKX and here: the access token is long dead and there never was a refresh token.
    response = page.request.post(f"{live_server.url}/sandbox/control/clock", data={"offset_seconds": 2 * 3600})
    assert response.ok
    ExchangeConnection.objects.filter(exchange="okx").update(access_expires_at=timezone.now() - timedelta(hours=1))
    assert connections_sweep() == {"enqueued": 0, "warned": 0}
    connection = ExchangeConnection.objects.get(exchange="okx")
    assert connection_check_api_key(connection_id=connection.pk) == "ok"

    page.reload()
    expect(card.locator(".status")).to_have_text("Active")
    expect(card.locator('tr[data-currency="BTC"]')).to_be_visible()
    expect(card).to_contain_text("Access by API key")
    expect(page.locator(".banner")).to_have_count(0)
    assert mailoutbox == []

    # The user deletes the key at OKX: the periodic check's signed read finds it, and the user is asked to reconnect.
    SandboxKey.objects.filter(api_key=connection.api_key).update(deleted_at=timezone.now())
    assert connection_check_api_key(connection_id=connection.pk) == "invalid"
    page.reload()
    expect(page.locator(".banner.reauthorize")).to_contain_text("Reconnect OKX")
    assert ExchangeConnection.objects.get(pk=connection.pk).status == "needs_reauthorization"
    page.screenshot(path="/tmp/okx-lifecycle.png", full_page=True)
