"""OAuth client rules an auditor checks (RFC 9700, RFC 6749, RFC 7636, RFC 9207)."""

import pytest

from broker_portal import services
from broker_portal.models import Membership
from connectors.models import ExchangeConnection, ExchangeCredential
from tests.connectors.helpers import PASSWORD, PortalBrowser, csrf_token, query_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_pkce_uses_a_fresh_s256_challenge_every_time_and_never_plain(browser_session, portal):
    ExchangeCredential.objects.filter(exchange="kraken").update(settings={"pkce": True})
    challenges = set()
    for _ in range(3):
        params = query_of(browser_session.start_connect("kraken", ["account.info:basic"]))
        assert params["code_challenge_method"] == "S256"
        challenges.add(params["code_challenge"])
    assert len(challenges) == 3


def test_a_response_naming_another_issuer_is_refused(browser_session, portal, sandbox_accounts):
    ExchangeCredential.objects.filter(exchange="kraken").update(settings={"issuer": "https://id.kraken.example"})
    account = sandbox_accounts["kraken"]["trader"]
    callback = browser_session.consent(
        browser_session.start_connect("kraken", ["account.info:basic"]), account["email"], account["password"]
    )
    forged = browser_session.session.get(callback + "&iss=https://evil.example")
    assert forged.status_code == 400 and "did not come from the exchange" in forged.text
    assert not ExchangeConnection.objects.exists()


def test_connect_and_callback_are_rate_limited_per_user(browser_session, portal, settings):
    settings.PORTAL_RATE_LIMITS = {
        **settings.PORTAL_RATE_LIMITS,
        "exchange_connect": {"user": "2/60"},
        "exchange_callback": {"user": "2/60"},
    }
    for _ in range(2):
        browser_session.start_connect("kraken", ["account.info:basic"])
    page = browser_session.session.get(f"{portal['url']}/connect/kraken/")
    limited = browser_session.session.post(
        f"{portal['url']}/connect/kraken/",
        allow_redirects=False,
        data={"csrfmiddlewaretoken": csrf_token(page.text), "permissions": ["account.info:basic"]},
    )
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "try again in" in limited.text
    for expected in (400, 400, 429):
        assert browser_session.session.get(f"{portal['url']}/connect/kraken/callback/?state=x").status_code == expected


def test_sign_in_never_redirects_off_site_through_next(portal):
    browser = PortalBrowser(portal["url"])
    page = browser.session.get(f"{portal['url']}/accounts/login/?next=https://evil.example/steal")
    response = browser.session.post(
        f"{portal['url']}/accounts/login/?next=https://evil.example/steal",
        allow_redirects=False,
        data={
            "csrfmiddlewaretoken": csrf_token(page.text),
            "login": portal["user"].email,
            "password": PASSWORD,
            "next": "https://evil.example/steal",
        },
    )
    assert response.status_code == 302 and "evil.example" not in response.headers["Location"]


def test_another_users_connection_cannot_be_disconnected(browser_session, portal, sandbox_accounts):
    assert browser_session.connect("kucoin", sandbox_accounts["kucoin"]["trader"]).status_code == 302
    victim = ExchangeConnection.objects.get()
    services.member_create(
        tenant=portal["tenant"],
        email="mallory@live.example",
        password=PASSWORD,
        role=Membership.Role.MEMBER,
        email_verified=True,
    )
    mallory = PortalBrowser(portal["url"])
    mallory.sign_in("mallory@live.example")
    page = mallory.session.get(f"{portal['url']}/")
    response = mallory.session.post(
        f"{portal['url']}/connect/kucoin/{victim.pk}/disconnect/", data={"csrfmiddlewaretoken": csrf_token(page.text)}
    )
    assert response.status_code == 404
    victim.refresh_from_db()
    assert victim.status == "active" and victim.api_key


def test_export_requests_are_rate_limited(client_at, tenant, member, settings):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "export_request": {"user": "1/60"}}
    client = client_at("alpha.localhost")
    client.force_login(member)
    form = {"scope": "user", "kinds": ["trade"], "format": "koinly", "date_from": "2026-01-01", "date_to": "2026-12-31"}
    first = client.post("/exports/", form)
    second = client.post("/exports/", form)
    assert first.status_code != 429, first.content.decode()[:500]
    assert second.status_code == 429 and "Retry-After" in second


# OKX is not here: Fast API takes only confidential clients (tests/connectors/test_okx_fast_api.py).
@pytest.mark.parametrize("exchange_id", ["kraken"])
def test_a_public_client_never_sends_a_stored_secret(browser_session, portal, sandbox_accounts, exchange_id):
    from connectors.token_refresh import Outcome, connection_refresh
    from tests.connectors.helpers import register_credential

    # A secret left over from when the credential was confidential: the exchange refuses a public client
    # that presents one (Kraken: "<client ID>:").
    register_credential(
        portal["url"], portal["tenant"], exchange_id, client_type="public", client_secret="left-over-secret"
    )
    response = browser_session.connect(exchange_id, sandbox_accounts[exchange_id]["trader"])
    assert response.status_code == 302 and response.headers["Location"] == "/", response.text[:1000]
    connection = ExchangeConnection.objects.get(exchange=exchange_id)
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
