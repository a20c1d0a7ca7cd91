"""OKX Fast API through the portal, against the sandbox: the authorize request, the JSON code exchange, the key as
the connection's lasting credential, the refusals that need the user or the broker admin, the key's health, and
disconnecting (okx/builder-integration-demo, demos/third-party-fastapi/INTEGRATION_GUIDE.md and PITFALLS.md)."""

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from broker_portal.models import AuditEvent
from connectors import token_refresh
from connectors.base.api import ApiKeyRefused
from connectors.forms import ExchangeCredentialForm
from connectors.key_health import CheckOutcome, connection_check_api_key
from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.okx.client import OKXAPI
from connectors.tasks import check_api_key, sweep_api_key_health
from sandbox import clock as sandbox_clock
from sandbox.models import ApiKey as SandboxKey
from sandbox.models import Token as SandboxToken
from tests.connectors.helpers import connect_okx, disconnect

from .canned import json_answer
from .helpers import query_of, register_credential

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]


def test_authorize_asks_for_fast_api_offline_with_state_once_encoded_and_no_pkce(browser_session, portal):
    url = browser_session.start_connect("okx", ["read_only", "trade"])
    query = query_of(url)
    assert query["scope"] == "fast_api" and query["access_type"] == "offline" and query["response_type"] == "code"
    assert query["state"] and "code_challenge" not in query and "code_challenge_method" not in query
    assert query["redirect_uri"] == f"{portal['url']}/connect/okx/callback/"
    assert "redirect_uri=http%3A%2F%2Flocalhost" in url and "%25" not in url  # encoded exactly once


def test_the_code_exchange_is_exactly_the_json_body_okx_verified(browser_session, sandbox_accounts, canned_answers):
    sent = []

    def token_answer(request):
        sent.append(request)
        return json_answer({"access_token": "at-1", "token_type": "bearer", "expires_in": 3600})(request)

    canned_answers["/v5/users/oauth/token"] = token_answer
    connect_okx(browser_session, sandbox_accounts)  # the sandbox then refuses the made-up token: not the point here
    [request] = sent
    assert request.method == "POST" and urlsplit(request.url).path.endswith("/okx/v5/users/oauth/token")
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert set(body) == {"grant_type", "code", "client_id", "client_secret"}
    assert body["grant_type"] == "authorization_code" and body["client_id"] == "live-okx"
    assert body["client_secret"] == "live-okx-secret"


def test_connect_keeps_the_key_and_no_refresh_token_and_asks_for_the_chosen_perm(
    browser_session, portal, sandbox_accounts
):
    response = connect_okx(browser_session, sandbox_accounts, ["read_only", "trade"])
    assert response.status_code == 302 and response.headers["Location"] == "/", response.text[:1500]
    connection = ExchangeConnection.objects.get(exchange="okx")
    assert connection.status == "active" and connection.api_key and connection.api_passphrase
    assert connection.refresh_token == "" and connection.refresh_expires_at is None
    assert connection.access_expires_at <= timezone.now() + timedelta(hours=1)
    key = SandboxKey.objects.get(api_key=connection.api_key)
    assert key.permissions == ["trade"] and key.ip_allowlist == ["127.0.0.1"]  # perm "trade", bindApp: true
    assert not SandboxToken.objects.filter(client__exchange="okx", revoked_at__isnull=False).exists()


@pytest.mark.parametrize(
    "registration, code, words",
    [
        ({"api_broker": False}, "50117", "only API brokers may"),
        ({"ip_allowlist": ()}, "50118", "server IP allowlist at OKX is not set up"),
    ],
)
def test_a_broker_setup_refusal_tells_the_user_it_is_the_brokers_and_records_it_for_the_admin(
    browser_session, portal, sandbox_accounts, registration, code, words
):
    register_credential(portal["url"], portal["tenant"], "okx", **registration)
    response = connect_okx(browser_session, sandbox_accounts)
    assert response.status_code == 400 and words in response.text and "not for you" in response.text
    assert not ExchangeConnection.objects.exists()
    event = AuditEvent.objects.get(action="connection.api_key_refused")
    assert event.details["error_code"] == code and event.details["audience"] == "broker_admin"
    # Never an unbound key instead (PITFALLS.md 3).
    assert not SandboxKey.objects.filter(exchange="okx").exists()


def test_one_key_per_user_refusal_tells_the_user_what_to_do_at_okx(portal, sandbox_accounts, browser_session):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    connection = ExchangeConnection.objects.get()
    token = SandboxToken.objects.get(access_token=connection.access_token)
    credential = ExchangeCredential.objects.get(tenant=portal["tenant"], exchange="okx")
    api = OKXAPI({"api_base_url": credential.api_base_url})
    # Without delete-before-create, OKX answers 50116 to a second key.
    with pytest.raises(ApiKeyRefused) as refused:
        api.create_api_key(token.access_token, ["read_only"], connection.details)
    assert refused.value.code == "50116" and refused.value.audience == "user"
    assert "Profile → API" in str(refused.value) and "broker-portal" in str(refused.value)


def test_the_connection_outlives_its_access_token_no_refresh_no_warning(
    browser_session, portal, sandbox_accounts, mailoutbox
):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    sandbox_clock.set_offset(5 * 24 * 3600)  # days past the hour the access token had
    ExchangeConnection.objects.update(access_expires_at=timezone.now() - timedelta(days=5))
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "97,500.00 USDT" in dashboard and "banner" not in dashboard, dashboard[:3000]
    assert "Access by API key" in dashboard
    connection = ExchangeConnection.objects.get()
    assert connection.status == "active" and mailoutbox == []
    assert connection_check_api_key(connection_id=connection.pk) == CheckOutcome.OK


def test_a_key_revoked_at_okx_is_found_by_the_periodic_check_with_email_banner_and_audit(
    browser_session, portal, sandbox_accounts, mailoutbox, settings
):
    schedule = settings.CELERY_BEAT_SCHEDULE["connectors-api-key-health"]
    assert schedule["task"] == sweep_api_key_health.name and schedule["schedule"] == 3600.0
    assert check_api_key.acks_late and check_api_key.time_limit and sweep_api_key_health.time_limit
    settings.API_KEY_CHECK_SPREAD_SECONDS = 0
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    connection = ExchangeConnection.objects.get()
    assert sweep_api_key_health.delay().get() == 1  # nobody is viewing: the beat check reads once
    assert ExchangeConnection.objects.get().status == "active" and mailoutbox == []
    SandboxKey.objects.filter(api_key=connection.api_key).update(deleted_at=timezone.now())  # the user deleted it
    assert sweep_api_key_health.delay().get() == 1
    connection.refresh_from_db()
    assert connection.status == "needs_reauthorization" and "connect again" in connection.last_error
    event = AuditEvent.objects.get(action="connection.needs_reauthorization")
    assert event.target_id == str(connection.pk) and event.details["reason"] == "api key refused (50111)"
    assert len(mailoutbox) == 1 and "reconnect your OKX" in mailoutbox[0].subject
    assert connection.api_secret not in mailoutbox[0].body
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "banner reauthorize" in dashboard and "Reconnect OKX" in dashboard
    # Told once; a flagged connection is not checked again.
    assert sweep_api_key_health.delay().get() == 0 and check_api_key.delay(connection.pk).get() == "skipped"
    assert len(mailoutbox) == 1


def test_a_key_revoked_at_okx_is_found_by_the_dashboard_too(
    browser_session, portal, sandbox_accounts, mailoutbox, settings
):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    SandboxKey.objects.filter(exchange="okx").update(deleted_at=timezone.now())
    settings.BALANCES_FRESH_SECONDS = 0  # the balances read on connect are due again: the page reads them
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "banner reauthorize" in dashboard and "Reconnect OKX" in dashboard, dashboard[:3000]
    assert ExchangeConnection.objects.get().status == "needs_reauthorization" and len(mailoutbox) == 1


@pytest.mark.parametrize("extra_codes, outcome", [(("50119",), CheckOutcome.INVALID), ((), CheckOutcome.UNAVAILABLE)])
def test_the_level_c_invalid_key_code_is_a_setting(
    portal, sandbox_accounts, browser_session, settings, canned_answers, extra_codes, outcome
):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    settings.OKX_EXTRA_INVALID_API_KEY_CODES = extra_codes
    canned_answers["/api/v5/account/balance"] = json_answer(
        {"code": "50119", "msg": "API key doesn't exist", "data": []}, status=401
    )
    assert connection_check_api_key(connection_id=ExchangeConnection.objects.get().pk) == outcome


def test_disconnect_within_the_hour_deletes_the_key(browser_session, portal, sandbox_accounts):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    page = disconnect(browser_session, portal, ExchangeConnection.objects.get()).text
    assert "is disconnected" in page and "Profile → API" not in page
    event = AuditEvent.objects.get(action="connection.disconnected")
    assert event.details["api_key_deleted"] is True and event.details["api_key_left"] is False
    assert not SandboxKey.objects.filter(exchange="okx", deleted_at__isnull=True).exists()


def test_disconnect_after_the_hour_says_how_to_remove_the_key_at_okx_and_records_it_was_left(
    browser_session, portal, sandbox_accounts, token_calls_okx
):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    ExchangeConnection.objects.update(access_expires_at=timezone.now() - timedelta(minutes=1))
    sandbox_clock.set_offset(3600 + 60)
    page = disconnect(browser_session, portal, ExchangeConnection.objects.get()).text
    assert "Profile → API" in page and "broker-portal" in page, page[:3000]
    event = AuditEvent.objects.get(action="connection.disconnected")
    assert event.details["api_key_deleted"] is False and event.details["api_key_left"] is True
    assert SandboxKey.objects.filter(exchange="okx", deleted_at__isnull=True).exists()  # truthfully: still there
    connection = ExchangeConnection.objects.get()
    assert connection.status == "revoked" and not (connection.api_key or connection.access_token)
    assert token_calls_okx == []  # no refresh was tried


@pytest.fixture
def token_calls_okx(monkeypatch):
    calls = []
    real = token_refresh.post_token_request
    monkeypatch.setattr(token_refresh, "post_token_request", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    return calls


def test_a_public_client_is_refused_at_configuration_and_at_connect(browser_session, portal):
    register_credential(portal["url"], portal["tenant"], "okx", client_type="public", client_secret="")
    page = browser_session.session.get(f"{portal['url']}/connect/okx/")
    assert page.status_code == 503 and "only confidential clients" in page.text
    credential = ExchangeCredential.objects.get(tenant=portal["tenant"], exchange="okx")
    form = ExchangeCredentialForm(
        instance=credential,
        data={
            "tenant": portal["tenant"].pk,
            "exchange": "okx",
            "is_enabled": "on",
            "client_id": "x",
            "client_type": "public",
            "redirect_uris": credential.redirect_uris[0],
            "allowed_permissions": "read_only",
            "default_permissions": "read_only",
            "authorize_base_url": credential.authorize_base_url,
            "api_base_url": credential.api_base_url,
            "settings": "{}",
        },
    )
    assert not form.is_valid() and "only confidential clients" in str(form.errors.get("client_type"))


def test_calls_go_to_the_okx_site_the_callback_named(portal, browser_session, sandbox_accounts):
    # The sandbox's callback names its own host; the connection keeps it and the signed calls use it.
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    assert ExchangeConnection.objects.get().details == {"domain": urlsplit(portal["url"]).netloc}
