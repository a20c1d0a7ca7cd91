"""The deposit-address API against the live sandbox: the same selectors and service as the Receive page, scoped to
the signed-in user's own connections at this tenant, documented in the schema."""

import pytest
import requests
from rest_framework.test import APIClient

from api.tokens import api_token_create
from broker_portal import services as portal_services
from broker_portal.models import AuditEvent, Membership
from connectors.models import ExchangeConnection
from tests.connectors.helpers import connected

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(portal):  # noqa: F811
    client = APIClient(HTTP_HOST="localhost")
    token = api_token_create(tenant=portal["tenant"], user=portal["user"], name="back office")[1]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def url(connection, what="deposit-address") -> str:
    return f"/api/v1/connections/{connection.pk}/{what}/"


def test_networks_then_none_then_created_once(client, browser_session, sandbox_accounts):  # noqa: F811
    connection = connected(browser_session, sandbox_accounts, "kucoin")
    networks = client.get(url(connection, "deposit-networks"), {"asset": "usdt"})
    assert networks.status_code == 200
    assert networks.json()["asset"] == "USDT"
    assert [(n["id"], n["minimum"], n["memo_required"]) for n in networks.json()["networks"]] == [
        ("trx", "1.000000000000000000", False),
        ("eth", "5.000000000000000000", False),
        ("ton", "1.000000000000000000", True),
    ]
    none = client.get(url(connection), {"asset": "USDT", "network": "ton"})
    assert none.status_code == 200 and none.json()["address"] is None and none.json()["can_create"] is True
    created = client.post(url(connection), {"asset": "USDT", "network": "ton"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["created"] is True and body["memo"].isdigit() and body["memo_label"] == "Memo"
    assert body["network"]["name"] == "TON" and body["minimum"] == "1.000000000000000000"
    again = client.post(url(connection), {"asset": "USDT", "network": "ton"}, format="json")
    assert again.status_code == 200 and again.json()["address"] == body["address"] and again.json()["created"] is False
    read = client.get(url(connection), {"asset": "USDT", "network": "ton"}).json()
    assert (read["address"], read["memo"], read["can_create"]) == (body["address"], body["memo"], False)
    event = AuditEvent.objects.get(action="connection.deposit_address_created")
    assert event.actor_id == connection.user_id and event.target_id == str(connection.pk)


def test_only_the_users_own_connection(client, portal, browser_session, sandbox_accounts):  # noqa: F811
    connection = connected(browser_session, sandbox_accounts, "kucoin")
    neighbour = portal_services.member_create(
        tenant=portal["tenant"],
        email="n@live.example",
        password="long-pass-1234",
        role=Membership.Role.MEMBER,
        email_verified=True,
    )
    theirs = ExchangeConnection.objects.create(
        tenant=portal["tenant"], user=neighbour, exchange="okx", api_key="their-key", permissions=["read_only"]
    )
    assert client.get(url(theirs), {"asset": "BTC"}).status_code == 404
    assert client.post(url(theirs), {"asset": "BTC"}, format="json").status_code == 404
    assert client.get(url(connection), {"asset": "BTC", "network": "btc"}).status_code == 200


def test_refusals_are_clear(client, portal, browser_session, sandbox_accounts):  # noqa: F811
    kraken = connected(browser_session, sandbox_accounts, "kraken")  # default permissions: no "Deposit"
    refused = client.get(url(kraken), {"asset": "BTC"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "permission"
    assert "Deposit" in refused.json()["error"]["message"]
    okx = connected(browser_session, sandbox_accounts, "okx")
    not_creatable = client.post(url(okx), {"asset": "USDT", "network": "USDT-TRC20"}, format="json")
    assert not_creatable.status_code == 422 and not_creatable.json()["error"]["code"] == "not_creatable"
    unknown = client.get(url(okx), {"asset": "NOPE"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_asset"
    wrong_network = client.get(url(okx), {"asset": "USDT", "network": "USDT-NOPE"})
    assert wrong_network.json()["error"]["code"] == "unknown_network"
    assert client.get(url(okx), {}).status_code == 400  # asset is required
    fault = {"exchange": "okx", "endpoint": "deposit-address", "kind": "500"}
    assert requests.post(f"{portal['url']}/sandbox/control/faults", json=fault).status_code in (200, 201)
    unavailable = client.get(url(okx), {"asset": "USDT", "network": "USDT-TRC20"})
    assert unavailable.status_code == 422 and unavailable.json()["error"]["code"] == "exchange_unavailable"
    assert "try again" in unavailable.json()["error"]["message"]


def test_the_schema_documents_both_operations(client):
    schema = client.get("/api/schema/?format=json").json()
    operations = schema["paths"]["/api/v1/connections/{id}/deposit-address/"]
    assert {"get", "post"} <= set(operations)
    assert {parameter["name"] for parameter in operations["get"]["parameters"]} >= {"asset", "network"}
    assert "/api/v1/connections/{id}/deposit-networks/" in schema["paths"]
