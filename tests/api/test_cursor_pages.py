"""Lists that run deep are paged by cursor: every row once, in order, at the same cost on any page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from api.tokens import api_token_create
from broker_portal.audit import record_audit_event
from broker_portal.models import AuditEvent, Membership
from connectors.models import ExchangeConnection
from tests.helpers import make_member
from withdrawals.models import Withdrawal

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(tenant):
    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")  # staff use the API only with MFA set up
    client = APIClient(HTTP_HOST="alpha.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=admin, name='c')[1]}")
    client.admin = admin
    return client


def walk(client, path) -> tuple[list[dict], list[int]]:
    """Every page from the first, following ``next``; the rows and each page's query count."""
    rows, counts, url = [], [], path
    while url:
        with CaptureQueriesContext(db_connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert "count" not in body  # nothing counts the whole list
        rows += body["results"]
        counts.append(len(queries))
        url = body["next"]
    return rows, counts


def test_audit_events_are_walked_newest_first_each_once_at_the_same_cost(admin_api, tenant, other_tenant):
    now = timezone.now()
    for n in range(7):
        event = record_audit_event(tenant=tenant, action=f"test.{n}", actor=admin_api.admin)
        AuditEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(minutes=n // 2))  # some ties
    record_audit_event(tenant=other_tenant, action="test.elsewhere")
    admin_api.get("/api/v1/audit-events/?limit=3")  # the first use of a token also records it as used
    rows, counts = walk(admin_api, "/api/v1/audit-events/?limit=3")
    expected = list(
        AuditEvent.objects.filter(tenant=tenant).order_by("-created_at", "-id").values_list("id", flat=True)
    )
    assert [row["id"] for row in rows] == expected and len(expected) >= 7
    assert len(set(counts)) == 1, counts


def test_withdrawals_and_history_sync_are_paged_by_cursor(admin_api, tenant):
    connections = [
        ExchangeConnection.objects.create(
            tenant=tenant, user=admin_api.admin, exchange="kucoin", exchange_account_id=f"a{n}"
        )
        for n in range(5)
    ]
    for connection in connections:
        Withdrawal.objects.create(
            tenant=tenant,
            user=admin_api.admin,
            connection=connection,
            exchange="kucoin",
            currency="BTC",
            destination="bc1q",
            amount=Decimal("0.01"),
        )
    rows, _ = walk(admin_api, "/api/v1/withdrawals/?limit=2")
    assert [row["id"] for row in rows] == sorted(Withdrawal.objects.values_list("id", flat=True), reverse=True)
    rows, counts = walk(admin_api, "/api/v1/history-sync/?limit=2")
    assert [row["connection"] for row in rows] == [connection.pk for connection in connections]
    assert len(set(counts)) == 1, counts


@pytest.mark.parametrize("query, status", [("limit=0", 400), ("limit=x", 400), ("cursor=not-ours", 404)])
def test_a_bad_limit_or_cursor_is_refused(admin_api, query, status):
    assert admin_api.get(f"/api/v1/audit-events/?{query}").status_code == status


def test_the_schema_documents_the_cursor(client_at, tenant):
    schema = client_at("alpha.localhost").get("/api/schema/?format=json").json()
    for path in ("/api/v1/audit-events/", "/api/v1/withdrawals/", "/api/v1/history-sync/"):
        operation = schema["paths"][path]["get"]
        assert {"cursor", "limit"} <= {parameter["name"] for parameter in operation["parameters"]}, path
        body = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert set(schema["components"]["schemas"][body]["properties"]) == {"next", "previous", "results"}, path


def test_the_docs_describe_authentication_and_every_operation_with_an_example(client_at, tenant):
    schema = client_at("alpha.localhost").get("/api/schema/?format=json").json()
    assert "Authorization: Bearer" in schema["info"]["description"]
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and "Example:" in operation.get("description", ""), (method, path)
            assert {"apiToken": []} in operation["security"], (method, path)
