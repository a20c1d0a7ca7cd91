"""The order ticket page: its lists do not grow queries with their rows; another user's connection or order is
"not found", as is a missing one; a connection without the trading permission is told why."""

from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from connectors.models import ExchangeConnection
from tests.helpers import make_member
from trading.models import TradeOrder

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(tenant, client_at):
    user = make_member(tenant, "trader@alpha.example")
    client = client_at("alpha.localhost")
    client.force_login(user)
    connection = ExchangeConnection.objects.create(
        tenant=tenant, user=user, exchange="kucoin", api_key="key-123456", permissions=["API_COMMON", "API_SPOT"]
    )
    return client, connection


def add_orders(connection, count, start=0):
    for number in range(start, start + count):
        TradeOrder.objects.create(
            tenant=connection.tenant,
            connection=connection,
            user=connection.user,
            exchange="kucoin",
            symbol="BTC-USDT",
            base="BTC",
            quote="USDT",
            side="buy",
            type="limit",
            size=Decimal("0.01"),
            price=Decimal("60000"),
            client_order_id=f"order{number:08d}",
            status="cancelled" if number % 2 else "open",
        )


def test_the_ticket_page_queries_do_not_grow_with_its_orders(signed_in):
    client, connection = signed_in
    add_orders(connection, 2)
    with CaptureQueriesContext(db_connection) as few:
        page = client.get(f"/trade/{connection.pk}/")
    assert page.status_code == 200 and page.content.decode().count('class="order-status"') == 2
    add_orders(connection, 30, start=2)
    with CaptureQueriesContext(db_connection) as many:
        page = client.get(f"/trade/{connection.pk}/")
    html = page.content.decode()
    assert html.count('class="order-status"') == 32 and 'class="listing orders open-orders cards"' in html
    assert len(many) == len(few), "\n".join(query["sql"] for query in many.captured_queries)


def test_anothers_connection_or_order_is_not_found(signed_in, tenant, other_tenant, client_at):
    client, connection = signed_in
    add_orders(connection, 1)
    order = TradeOrder.objects.get()
    neighbour = make_member(tenant, "neighbour@alpha.example")
    theirs = ExchangeConnection.objects.create(
        tenant=tenant, user=neighbour, exchange="kucoin", api_key="k-654321", permissions=["API_COMMON", "API_SPOT"]
    )
    assert client.get(f"/trade/{theirs.pk}/").status_code == 404
    assert client.get(f"/trade/{theirs.pk + 1000}/").status_code == 404
    assert client.get(f"/trade/{theirs.pk}/orders/{order.pk}/").status_code == 404
    assert client.post(f"/trade/{theirs.pk}/orders/{order.pk}/cancel/").status_code == 404
    intruder = client_at("alpha.localhost")
    intruder.force_login(neighbour)
    assert intruder.get(f"/trade/{connection.pk}/orders/{order.pk}/").status_code == 404
    assert intruder.post(f"/trade/{connection.pk}/place/", {"client_order_id": "x" * 32}).status_code == 404
    assert TradeOrder.objects.get().status == "open"


def test_without_the_spot_permission_the_page_says_so(signed_in):
    client, connection = signed_in
    connection.permissions = ["API_COMMON"]
    connection.save(update_fields=["permissions"])
    page = client.get(f"/trade/{connection.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "“Spot trading”" in html and "Reconnect KuCoin and tick it to trade." in html
    assert "Preview order" not in html
