"""An auditor's attempts on the connect flow: state, codes, redirect URIs, tampered URLs, tenants, faults."""

import pytest
from django.test import RequestFactory

from broker_portal import services
from broker_portal.models import Membership
from connectors.base.oauth import redirect_uri_for
from connectors.models import ExchangeConnection
from sandbox.faults import fault_set

from .helpers import PASSWORD, PortalBrowser, csrf_token, query_of, register_credential

pytestmark = pytest.mark.django_db(transaction=True)


def trader(sandbox_accounts, exchange_id="kucoin"):
    return sandbox_accounts[exchange_id]["trader"]


def test_callback_without_state_or_with_a_forged_one_is_refused(browser_session, portal, sandbox_accounts):
    account = trader(sandbox_accounts)
    callback = browser_session.consent(browser_session.start_connect("kucoin"), account["email"], account["password"])
    params = query_of(callback)
    base = f"{portal['url']}/connect/kucoin/callback/"
    missing = browser_session.session.get(base, params={"code": params["code"]})
    forged = browser_session.session.get(base, params={"code": params["code"], "state": "forged-state"})
    for response in (missing, forged):
        assert response.status_code == 400 and "was not started here" in response.text
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert not ExchangeConnection.objects.exists()
    # The real state still works once, and only once.
    assert browser_session.session.get(callback, allow_redirects=False).status_code == 302
    replay = browser_session.session.get(callback, allow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.text
    assert ExchangeConnection.objects.count() == 1


def test_a_replayed_code_under_a_fresh_state_changes_nothing(browser_session, portal, sandbox_accounts):
    account = trader(sandbox_accounts)
    first = browser_session.consent(browser_session.start_connect("kucoin"), account["email"], account["password"])
    assert browser_session.session.get(first, allow_redirects=False).status_code == 302
    connection = ExchangeConnection.objects.get()
    fresh_state = query_of(browser_session.start_connect("kucoin"))["state"]
    response = browser_session.session.get(
        f"{portal['url']}/connect/kucoin/callback/", params={"code": query_of(first)["code"], "state": fresh_state}
    )
    assert response.status_code == 400 and "did not accept the authorization" in response.text
    assert ExchangeConnection.objects.get().api_key == connection.api_key


def test_a_response_for_one_exchange_delivered_to_another_is_refused(browser_session, portal, sandbox_accounts):
    account = trader(sandbox_accounts)
    callback = browser_session.consent(browser_session.start_connect("kucoin"), account["email"], account["password"])
    mixed_up = callback.replace("/connect/kucoin/callback/", "/connect/okx/callback/")
    response = browser_session.session.get(mixed_up, allow_redirects=False)
    assert response.status_code == 400 and not ExchangeConnection.objects.exists()


def test_nothing_added_to_the_urls_changes_client_redirect_or_scope(browser_session, portal):
    page = browser_session.session.get(f"{portal['url']}/connect/kraken/")
    response = browser_session.session.post(
        f"{portal['url']}/connect/kraken/?scope=account.fast-api-key:funds-withdraw&client_id=evil"
        f"&redirect_uri=https://evil.example/&auth_params=prompt%3Dnone",
        data={
            "csrfmiddlewaretoken": csrf_token(page.text),
            "permissions": ["account.info:basic"],
            "scope": "account.fast-api-key:funds-withdraw",
            "redirect_uri": "https://evil.example/",
        },
        allow_redirects=False,
    )
    params = query_of(response.headers["Location"])
    assert params["client_id"] == "live-kraken"
    assert params["redirect_uri"] == f"{portal['url']}/connect/kraken/callback/"
    assert params["scope"] == "account.info:basic"
    assert "prompt" not in params
    not_offered = browser_session.session.post(
        f"{portal['url']}/connect/kraken/",
        allow_redirects=False,
        data={
            "csrfmiddlewaretoken": csrf_token(page.text),
            "permissions": ["account.info:everything"],
        },
    )
    assert not_offered.status_code == 200 and "not one of the available choices" in not_offered.text


def test_redirect_uri_is_always_one_registered_never_the_host_header(settings):
    settings.ALLOWED_HOSTS = ["alt.example", "evil.example"]
    registered = ["https://portal.example/connect/kraken/callback/", "https://alt.example/connect/kraken/callback/"]
    request = RequestFactory().get("/", HTTP_HOST="alt.example")
    assert redirect_uri_for(request, registered) == registered[1]
    request = RequestFactory().get("/", HTTP_HOST="evil.example")
    assert redirect_uri_for(request, registered) == registered[0]


def test_declining_at_the_exchange_ends_on_a_friendly_escaped_message(browser_session, portal, sandbox_accounts):
    account = trader(sandbox_accounts, "kraken")
    callback = browser_session.consent(
        browser_session.start_connect("kraken"), account["email"], account["password"], action="deny"
    )
    assert query_of(callback)["error"] == "access_denied"
    response = browser_session.session.get(callback)
    assert response.status_code == 400 and "You declined the authorization" in response.text
    state = query_of(browser_session.start_connect("kraken"))["state"]
    hostile = browser_session.session.get(
        f"{portal['url']}/connect/kraken/callback/", params={"state": state, "error": "<script>alert(1)</script>"}
    )
    assert "<script>alert(1)</script>" not in hostile.text and "&lt;script&gt;" in hostile.text


def test_a_callback_after_sign_out_shows_no_sign_in_redirect_carrying_the_code(portal):
    anonymous = PortalBrowser(portal["url"])
    response = anonymous.session.get(
        f"{portal['url']}/connect/kucoin/callback/?code=abc&state=def", allow_redirects=False
    )
    assert response.status_code == 400 and "code=abc" not in response.headers.get("Location", "")


def test_same_exchange_account_at_two_tenants_stays_two_connections(
    browser_session, portal, sandbox_accounts, live_server
):
    account = trader(sandbox_accounts)
    assert browser_session.connect("kucoin", account).status_code == 302
    other = services.tenant_create(name="Other Broker", slug="other", hosts=["127.0.0.1"])
    services.member_create(
        tenant=other, email="trader@other.example", password=PASSWORD, role=Membership.Role.MEMBER, email_verified=True
    )
    other_url = live_server.url.replace("localhost", "127.0.0.1")
    register_credential(other_url, other, "kucoin")
    other_browser = PortalBrowser(other_url)
    other_browser.sign_in("trader@other.example")
    assert other_browser.connect("kucoin", account).status_code == 302
    first, second = ExchangeConnection.objects.order_by("pk")
    assert (first.tenant, second.tenant) == (portal["tenant"], other)
    assert first.user != second.user
    assert first.access_token != second.access_token and first.api_key != second.api_key


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("500", "not answering right now"),
        ("429", "not answering right now"),
        ("invalid_grant", "did not accept the authorization"),
    ],
)
def test_exchange_faults_during_connect_end_clearly_and_store_nothing(
    browser_session, portal, sandbox_accounts, kind, expected
):
    account = trader(sandbox_accounts)
    callback = browser_session.consent(browser_session.start_connect("kucoin"), account["email"], account["password"])
    fault_set(exchange="kucoin", endpoint="token", kind=kind, count=1)
    response = browser_session.session.get(callback)
    assert expected in response.text and not ExchangeConnection.objects.exists()


def test_an_exchange_that_times_out_during_connect_stores_nothing(browser_session, portal, sandbox_accounts, settings):
    settings.EXCHANGE_HTTP_TIMEOUT = (2, 1)
    account = trader(sandbox_accounts)
    callback = browser_session.consent(browser_session.start_connect("kucoin"), account["email"], account["password"])
    fault_set(exchange="kucoin", endpoint="token", kind="slow", delay_seconds=3, count=1)
    response = browser_session.session.get(callback)
    assert response.status_code == 502 and "did not answer in time" in response.text
    assert not ExchangeConnection.objects.exists()
