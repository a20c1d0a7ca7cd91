"""The credential's one look-up (connectors.selectors.credential_for) and its rules, met on the pages and in the API:
a deleted credential is a clear "not offered" (never a 500); a switched-off one refuses a connect but lets the user
disconnect what they hold."""

import pytest
from rest_framework.test import APIClient

from broker_portal.models import AuditEvent
from connectors.exchanges import EXCHANGES
from connectors.models import ExchangeConnection, ExchangeCredential

pytestmark = pytest.mark.django_db

NOT_OFFERED = "Kraken is not offered here."
SWITCHED_OFF = (
    "Kraken is switched off by your broker, so it cannot be connected now. A connection you already have "
    "can still be disconnected."
)


@pytest.fixture
def credential(tenant):
    return ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="kraken",
        client_id="k",
        authorize_base_url="https://id.kraken.test",
        api_base_url="https://api.kraken.test",
        redirect_uris=["http://alpha.localhost/connect/kraken/callback/"],
        allowed_permissions=list(EXCHANGES["kraken"].permission_codes),
    )


@pytest.fixture
def connection(tenant, member, credential):
    """An active connection holding a key (whose tokens are gone, so a disconnect calls no exchange)."""
    return ExchangeConnection.objects.create(
        tenant=tenant,
        user=member,
        exchange="kraken",
        api_key="kraken-key",
        permissions=list(EXCHANGES["kraken"].permission_codes),
    )


@pytest.fixture
def page(client_at, member):
    client = client_at("alpha.localhost")
    client.force_login(member)
    return client


@pytest.fixture
def session_api(member):
    client = APIClient(HTTP_HOST="alpha.localhost")
    client.force_login(member)
    return client


def error_of(response) -> tuple[int, dict]:
    return response.status_code, response.json()


def test_a_deleted_credential_is_not_offered_on_every_page_and_in_the_api(page, api, connection, credential):
    credential.delete()
    assert page.get("/").status_code == 200
    ticket = {"base": "BTC", "quote": "USDT", "side": "buy", "type": "limit", "size": "0.01", "price": "100"}
    for response in (
        page.get("/connect/kraken/"),
        page.get(f"/receive/{connection.pk}/"),
        page.post(f"/trade/{connection.pk}/preview/", ticket),
    ):
        assert response.status_code == 404, response.request["PATH_INFO"]
        assert NOT_OFFERED in response.content.decode(), response.request["PATH_INFO"]
    disconnect = page.post(f"/connect/kraken/{connection.pk}/disconnect/")
    assert disconnect.status_code == 404 and NOT_OFFERED in disconnect.content.decode()
    not_offered = (404, {"error": {"code": "not_offered", "message": NOT_OFFERED}})
    assert (
        error_of(api.post("/api/v1/exchanges/kraken/connect/", {"permissions": ["account.info:basic"]}, format="json"))
        == not_offered
    )
    assert error_of(api.post(f"/api/v1/connections/{connection.pk}/disconnect/")) == not_offered
    assert (
        error_of(api.post(f"/api/v1/connections/{connection.pk}/orders/preview/", ticket, format="json")) == not_offered
    )
    assert error_of(api.get(f"/api/v1/connections/{connection.pk}/deposit-networks/?asset=BTC")) == not_offered
    assert api.get(f"/api/v1/connections/{connection.pk}/").status_code == 200
    connection.refresh_from_db()
    assert connection.status == ExchangeConnection.Status.ACTIVE  # nothing was lost


def test_a_switched_off_credential_refuses_a_connect_in_the_same_words_on_the_page_and_in_the_api(
    page, api, session_api, credential
):
    credential.is_enabled = False
    credential.save()
    started = page.get("/connect/kraken/")
    assert started.status_code == 403 and SWITCHED_OFF in started.content.decode()
    posted = page.post("/connect/kraken/", {"permissions": ["account.info:basic"]})
    assert posted.status_code == 403 and SWITCHED_OFF in posted.content.decode()
    refused = (403, {"error": {"code": "exchange_switched_off", "message": SWITCHED_OFF}})
    for client in (api, session_api):
        assert (
            error_of(
                client.post("/api/v1/exchanges/kraken/connect/", {"permissions": ["account.info:basic"]}, format="json")
            )
            == refused
        )
    assert not AuditEvent.objects.filter(action="connection.authorization_started").exists()


def test_a_switched_off_credential_still_lets_the_user_disconnect_on_the_page(page, connection, credential):
    credential.is_enabled = False
    credential.save()
    dashboard = page.get("/").content.decode()
    assert 'data-exchange="kraken"' in dashboard and "switched Kraken off" in dashboard
    assert f"/connect/kraken/{connection.pk}/disconnect/" in dashboard and 'href="/connect/kraken/"' not in dashboard
    response = page.post(f"/connect/kraken/{connection.pk}/disconnect/")
    assert response.status_code == 302 and response["Location"] == "/"
    connection.refresh_from_db()
    assert connection.status == ExchangeConnection.Status.REVOKED and connection.api_key == ""
    assert AuditEvent.objects.filter(action="connection.disconnected", target_id=str(connection.pk)).exists()
    # Disconnected, the switched-off exchange leaves the dashboard like any other the broker does not offer.
    assert 'data-exchange="kraken"' not in page.get("/").content.decode()


def test_a_switched_off_credential_still_lets_the_user_disconnect_in_the_api(api, connection, credential):
    credential.is_enabled = False
    credential.save()
    response = api.post(f"/api/v1/connections/{connection.pk}/disconnect/")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    connection.refresh_from_db()
    assert connection.api_key == ""


def test_the_apis_connect_start_is_audited_and_rate_limited_as_the_pages_is(
    session_api, page, member, credential, settings
):
    settings.PORTAL_RATE_LIMITS = {"exchange_connect": {"user": "2/60"}}
    started = session_api.post(
        "/api/v1/exchanges/kraken/connect/", {"permissions": ["account.info:basic"]}, format="json"
    )
    assert started.status_code == 200 and started.json()["authorize_url"].startswith("https://id.kraken.test/")
    event = AuditEvent.objects.get(action="connection.authorization_started")
    assert (event.actor_id, event.details) == (member.pk, {"exchange": "kraken", "permissions": ["account.info:basic"]})
    # One limit for both ways in: the page's start counts against the API's, and the other way round.
    assert page.post("/connect/kraken/", {"permissions": ["account.info:basic"]}).status_code == 302
    limited = session_api.post(
        "/api/v1/exchanges/kraken/connect/", {"permissions": ["account.info:basic"]}, format="json"
    )
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "throttled"
    assert int(limited["Retry-After"]) > 0
    assert page.post("/connect/kraken/", {"permissions": ["account.info:basic"]}).status_code == 429
    assert AuditEvent.objects.filter(action="connection.authorization_started").count() == 2
