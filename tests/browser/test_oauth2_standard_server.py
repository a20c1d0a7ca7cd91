"""Connecting the generic OAuth 2.0 provider in Chromium to a standards-compliant authorization server of our own
(django-oauth-toolkit in its own process, tests/oauth_server), with each kind of client."""

import pytest
from playwright.sync_api import expect

from connectors.models import ExchangeCredential
from connectors.oauth2.credential import test_connection as read_metadata
from tests.connectors.helpers import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("kind", ["basic", "body", "public"])
def test_connect_and_disconnect_in_the_browser(live_server, page, portal, authorization_server, kind):
    server = authorization_server
    client = server.clients[kind]
    settings, _ = read_metadata(
        {"issuer": server.issuer, "display_name": "Broker ID", **({"client_auth": "body"} if kind == "body" else {})}
    )
    ExchangeCredential.objects.create(
        tenant=portal["tenant"],
        exchange="oauth2",
        client_id=client["client_id"],
        client_secret=client.get("client_secret", ""),
        client_type=client["client_type"],
        redirect_uris=[server.redirect_uri],
        allowed_permissions=["read", "email"],
        default_permissions=["read"],
        authorize_base_url=server.issuer,
        api_base_url=server.issuer,
        settings=settings,
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", portal["user"].email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    card = page.locator('[data-exchange="oauth2"]')
    expect(card.get_by_role("heading")).to_have_text("Broker ID")  # the broker's name for its server
    card.get_by_role("link", name="Connect Broker ID").click()
    page.get_by_label("email").check()
    page.get_by_role("button", name="Continue to Broker ID").click()
    # The server's own sign-in and consent pages.
    page.fill("#id_username", server.user["username"])
    page.fill("#id_password", server.user["password"])
    page.click("#sign-in")
    page.click("input[name=allow]")

    expect(page.get_by_text("Broker ID is connected.")).to_be_visible()
    expect(card.locator(".status")).to_have_text("Active")
    expect(card.locator(".account")).to_have_text(f"Account {server.user['email']}")
    expect(card.get_by_role("link", name="Reconnect")).to_have_count(0)  # the same account is not connected twice

    page.once("dialog", lambda dialog: dialog.accept())  # "Disconnect …? Its access is revoked."
    card.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_text("Broker ID is disconnected and its access tokens are erased here.")).to_be_visible()
    expect(card.locator(".status")).to_have_text("Revoked")


def one_pixel_png() -> bytes:
    """A real, decodable 1×1 PNG (the browser draws it only if it is one)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x1f\x4f\xd1"))
        + chunk(b"IEND", b"")
    )


def test_a_servers_logo_is_drawn_on_its_card_under_the_csp(live_server, page, portal, authorization_server):
    from django.core.files.base import ContentFile

    server = authorization_server
    settings, _ = read_metadata({"issuer": server.issuer, "display_name": "Broker ID"})
    client = server.clients["basic"]
    credential = ExchangeCredential.objects.create(
        tenant=portal["tenant"],
        exchange="oauth2",
        server_slug="broker-id",
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        redirect_uris=[server.redirect_uri_of("broker-id")],
        allowed_permissions=["read"],
        default_permissions=["read"],
        authorize_base_url=server.issuer,
        api_base_url=server.issuer,
        settings=settings,
    )
    credential.logo.save("broker-id.png", ContentFile(one_pixel_png()))
    refused_by_csp = []
    page.on(
        "console",
        lambda message: refused_by_csp.append(message.text) if "Content Security Policy" in message.text else None,
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", portal["user"].email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    logo = page.locator('[data-server="broker-id"] h2 img.exchange-logo')
    expect(logo).to_have_attribute("src", f"/branding/exchanges/{credential.pk}/logo")
    page.wait_for_function("img => img.complete && img.naturalWidth === 1", arg=logo.element_handle())
    assert not refused_by_csp
