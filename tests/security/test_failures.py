"""With DEBUG off, a failure shows a generic page or error body: no traceback, no secret."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

import connectors.views
from api import views as api_views
from api.tokens import api_token_create
from connectors.models import ExchangeConnection
from sandbox.faults import fault_set
from tests.helpers import make_member

pytestmark = pytest.mark.django_db

SECRET = "super-secret-token-value-123"


def boom(*args, **kwargs):
    raise RuntimeError(f"failed while holding {SECRET}")


def test_a_failing_page_is_generic(tenant, member, monkeypatch, settings):
    assert settings.DEBUG is False
    monkeypatch.setattr(connectors.views, "dashboard_cards", boom)
    client = Client(HTTP_HOST="alpha.localhost", raise_request_exception=False)
    client.force_login(member)
    response = client.get("/")
    assert response.status_code == 500
    body = response.content.decode()
    assert SECRET not in body and "Traceback" not in body and "RuntimeError" not in body


def test_a_failing_api_call_answers_the_common_error_body(tenant, member, monkeypatch):
    monkeypatch.setattr(api_views, "own_connections", boom)
    client = Client(
        HTTP_HOST="alpha.localhost",
        raise_request_exception=False,
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=member, name='x')[1]}",
    )
    response = client.get("/api/v1/connections/")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "server_error", "message": "Something went wrong on our side."}}


def test_key_rotation_reaches_connection_tokens_too(tenant, settings):
    user = make_member(tenant, "rotating@alpha.example")
    connection = ExchangeConnection.objects.create(
        tenant=tenant, user=user, exchange="kucoin", access_token=SECRET, api_secret="api-secret-1"
    )
    settings.FERNET_KEYS = ["rotated-key", *settings.FERNET_KEYS]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))
    settings.FERNET_KEYS = ["rotated-key"]
    connection = ExchangeConnection.objects.get(pk=connection.pk)
    assert connection.access_token == SECRET and connection.api_secret == "api-secret-1"


@pytest.mark.django_db(transaction=True)
def test_an_exchange_failing_on_balances_shows_a_clear_message_and_keeps_the_connection(
    browser_session, portal, sandbox_accounts
):
    assert browser_session.connect("kucoin", sandbox_accounts["kucoin"]["trader"]).status_code == 302
    cache.clear()
    fault_set(exchange="kucoin", endpoint="accounts", kind="500", count=2)  # the read and its one retry
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "Balances are unavailable right now" in dashboard
    assert ExchangeConnection.objects.get().status == "active"
    # The failure is remembered briefly (the exchange is not asked again on every load), then read anew.
    assert "Balances are unavailable right now" in browser_session.session.get(f"{portal['url']}/").text
    cache.clear()
    assert "Balances are unavailable" not in browser_session.session.get(f"{portal['url']}/").text
