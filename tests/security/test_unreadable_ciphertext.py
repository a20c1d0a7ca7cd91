"""One connection whose stored secret no key opens (a dropped key, a damaged row) shows as broken on its own:
the user's dashboard and API keep answering, and the admin sees which connection and why."""

import pytest
from django.test import Client

from api.tokens import api_token_create
from connectors.models import ExchangeConnection, ExchangeCredential
from tests.security.helpers import corrupt

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_connections(tenant, member):
    for exchange in ("kucoin", "okx"):
        ExchangeCredential.objects.create(
            tenant=tenant,
            exchange=exchange,
            client_id=f"{exchange}-client",
            authorize_base_url="https://x.test",
            api_base_url="https://x.test",
        )
    broken = ExchangeConnection.objects.create(
        tenant=tenant, user=member, exchange="kucoin", api_key="k" * 24, api_secret="s", access_token="t"
    )
    healthy = ExchangeConnection.objects.create(
        tenant=tenant, user=member, exchange="okx", access_token="t", permissions=["read_only"]
    )
    corrupt(broken, "api_secret")
    return broken, healthy


@pytest.fixture
def api_client(tenant, member):
    return Client(
        HTTP_HOST="alpha.localhost",
        raise_request_exception=False,
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=member, name='x')[1]}",
    )


def test_dashboard_shows_the_broken_connection_and_the_rest(two_connections, member):
    client = Client(HTTP_HOST="alpha.localhost", raise_request_exception=False)
    client.force_login(member)
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-exchange="okx"' in page and 'data-exchange="kucoin"' in page
    assert "cannot be read" in page


def test_api_lists_and_shows_the_broken_connection(two_connections, api_client):
    broken, healthy = two_connections
    listed = api_client.get("/api/v1/connections/")
    assert listed.status_code == 200
    rows = {row["id"]: row for row in listed.json()["results"]}
    assert rows[broken.pk]["secrets_readable"] is False and rows[healthy.pk]["secrets_readable"] is True
    detail = api_client.get(f"/api/v1/connections/{broken.pk}/")
    assert detail.status_code == 200 and detail.json()["secrets_readable"] is False
    balances = api_client.get(f"/api/v1/connections/{broken.pk}/balances/")
    assert balances.status_code == 200 and "cannot be read" in balances.json()["error"]


@pytest.mark.parametrize("field", ["api_key", "access_token"])
def test_api_key_itself_unreadable(two_connections, api_client, field):
    broken, _ = two_connections
    corrupt(broken, field)
    assert api_client.get(f"/api/v1/connections/{broken.pk}/").status_code == 200
    assert api_client.get("/api/v1/connections/").status_code == 200


def test_admin_sees_which_connection_and_why(two_connections, admin_client, member):  # noqa: F811
    broken, healthy = two_connections
    corrupt(broken, "api_key")
    changelist = admin_client.get("/admin/connectors/exchangeconnection/")
    assert changelist.status_code == 200
    page = changelist.content.decode()
    assert "no key opens: api_key, api_secret" in page and "Readable" in page
    change = admin_client.get(f"/admin/connectors/exchangeconnection/{broken.pk}/change/")
    assert change.status_code == 200 and "no key opens: api_key, api_secret" in change.content.decode()
    assert admin_client.get(f"/admin/connectors/exchangeconnection/{healthy.pk}/change/").status_code == 200
