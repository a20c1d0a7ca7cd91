"""The trading API against the live sandbox: the order ticket's selectors and services, an Idempotency-Key on
placing and cancelling, another tenant's or user's orders not found, documented in the schema."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from api.tokens import api_token_create
from broker_portal import services as portal_services
from broker_portal.models import Membership
from sandbox.models import SpotOrder
from tests.connectors.helpers import connected
from trading.models import TradeOrder

pytestmark = pytest.mark.django_db(transaction=True)
# KuCoin's default grant is General only: trading is ticked on purpose.
TRADING = ["API_COMMON", "API_SPOT"]
TICKET = {"base": "BTC", "quote": "USDT", "side": "buy", "type": "limit", "size": "0.0100000049", "price": "60000.09"}


@pytest.fixture
def client(portal):  # noqa: F811
    client = APIClient(HTTP_HOST="localhost")
    token = api_token_create(tenant=portal["tenant"], user=portal["user"], name="back office")[1]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_preview_place_once_read_and_cancel(client, browser_session, sandbox_accounts):  # noqa: F811
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    base = f"/api/v1/connections/{connection.pk}/orders/"
    preview = client.post(base + "preview/", TICKET, format="json")
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert body["size"] == "0.010000000000000000" and body["limit_price"] == "60000.000000000000000000"
    assert body["rounded"] is True and Decimal(body["fee"]) == Decimal("0.6")
    assert body["instrument"]["symbol"] == "BTC-USDT" and len(body["client_order_id"]) == 32

    placed = client.post(
        base, {**TICKET, "client_order_id": body["client_order_id"]}, format="json", HTTP_IDEMPOTENCY_KEY="place-1"
    )
    assert placed.status_code == 201, placed.json()
    order = placed.json()
    assert order["status"] == "open" and order["attribution"]["verify"] == "true"
    again = client.post(
        base, {**TICKET, "client_order_id": body["client_order_id"]}, format="json", HTTP_IDEMPOTENCY_KEY="place-1"
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true" and again.json() == order
    # Without a client order id each key places its own order; the same key never twice.
    other = client.post(base, TICKET, format="json", HTTP_IDEMPOTENCY_KEY="place-2")
    assert other.status_code == 201 and other.json()["id"] != order["id"]
    assert client.post(base, TICKET, format="json", HTTP_IDEMPOTENCY_KEY="place-2").json() == other.json()
    assert SpotOrder.objects.count() == 2

    listed = client.get(base).json()
    assert [row["id"] for row in listed["open"]] == [other.json()["id"], order["id"]] and listed["history"] == []
    detail = client.get(f"{base}{order['id']}/").json()
    assert detail["status"] == "open" and detail["fills"] == []
    cancelled = client.post(f"{base}{order['id']}/cancel/", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    replay = client.post(f"{base}{order['id']}/cancel/", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    refused = client.post(f"{base}{order['id']}/cancel/")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid"


def test_bad_input_and_other_users_orders(client, portal, browser_session, sandbox_accounts):  # noqa: F811
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    base = f"/api/v1/connections/{connection.pk}/orders/"
    for bad in (
        {**TICKET, "size": "-1"},
        {**TICKET, "side": "short"},
        {k: v for k, v in TICKET.items() if k != "price"},
        {**TICKET, "size": "abc"},
    ):
        response = client.post(base + "preview/", bad, format="json")
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid", bad
    unknown = client.post(base + "preview/", {**TICKET, "base": "NOPE"}, format="json")
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_symbol"
    placed = client.post(base, TICKET, format="json").json()
    someone = portal_services.member_create(
        tenant=portal["tenant"],
        email="other@live.example",
        password="x" * 20,
        role=Membership.Role.MEMBER,
        email_verified=True,
    )
    stranger = APIClient(HTTP_HOST="localhost")
    stranger.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=portal['tenant'], user=someone, name='x')[1]}"
    )
    assert stranger.get(f"{base}{placed['id']}/").status_code == 404
    assert stranger.post(base, TICKET, format="json").status_code == 404
    assert stranger.post(f"{base}{placed['id']}/cancel/").status_code == 404
    assert TradeOrder.objects.get(pk=placed["id"]).status == "open"


def test_the_schema_documents_the_trading_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "/api/v1/connections/{id}/orders/" in paths and "/api/v1/connections/{id}/orders/preview/" in paths
    assert any(p["name"] == "Idempotency-Key" for p in paths["/api/v1/connections/{id}/orders/"]["post"]["parameters"])
