"""Headers every page carries, and cookies that keep the OAuth callback working."""

import pytest

pytestmark = pytest.mark.django_db


def test_pages_carry_csp_frame_referrer_and_nosniff_headers(tenant, member, client_at):
    client = client_at("alpha.localhost")
    client.force_login(member)
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "<style" not in response.content.decode() and "onsubmit=" not in response.content.decode()


def test_tenant_colours_come_from_a_stylesheet(tenant, client_at):
    tenant.primary_color = "#123456"
    tenant.save()
    response = client_at("alpha.localhost").get("/branding/theme.css")
    assert response["Content-Type"] == "text/css" and b"--brand: #123456" in response.content


def test_session_id_rotates_at_sign_in_and_sign_out_ends_it_server_side(tenant, member, client_at):
    client = client_at("alpha.localhost")
    client.get("/accounts/login/")
    client.session["probe"] = "x"
    before = client.session.session_key
    client.post("/accounts/login/", {"login": member.email, "password": "correct-horse-battery"})
    after = client.session.session_key
    assert after and after != before
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    client.post("/accounts/logout/")
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=after).exists()


def test_the_api_docs_page_has_no_inline_style_or_script(tenant, client_at):
    page = client_at("alpha.localhost").get("/api/docs/").content.decode()
    assert "<style" not in page and "<script>" not in page
    assert "api-docs.css" in page and "swagger-ui" in page
