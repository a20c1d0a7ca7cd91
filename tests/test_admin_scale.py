"""The admin's changelists cost the same queries for a tenant of one row or of a million: no DISTINCT where the
tenant filter cannot repeat a row, no count of the whole table, a capped count of the filtered rows."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from broker_portal.admin import CappedCountPaginator
from broker_portal.audit import record_audit_event
from broker_portal.models import Membership
from connectors.models import ExchangeConnection, ExchangeCredential
from exports.models import ExportJob, HistoryEntry
from payouts.models import Payout, PayoutBatch
from tests.helpers import make_member
from trading.models import TradeOrder
from webhooks import services as webhook_services
from withdrawals.models import Withdrawal, WithdrawalLimit

pytestmark = pytest.mark.django_db

# Each changelist's queries, whatever the number of rows: the tenant's host, the session, the user, their
# membership, the MFA check, the capped count, the admin's two permission reads, the page's rows; the
# connections add their health summary's failing connections and lapsing count (its counts by status come from
# the cache the first view filled: tests/connectors/test_connection_health.py).
CHANGELISTS = {
    "/admin/broker_portal/user/": 9,
    "/admin/broker_portal/membership/": 9,
    "/admin/broker_portal/auditevent/": 9,
    "/admin/connectors/exchangeconnection/": 11,
    "/admin/withdrawals/withdrawal/": 9,
    "/admin/exports/historyentry/": 9,
    "/admin/exports/exportjob/": 9,
}


def add_rows(tenant, count, start=0):
    for i in range(start, start + count):
        user = make_member(tenant, f"user{i}@{tenant.slug}.example")
        connection = ExchangeConnection.objects.create(
            tenant=tenant, user=user, exchange="kucoin", exchange_account_id=f"acct-{i}"
        )
        Withdrawal.objects.create(
            tenant=tenant,
            user=user,
            connection=connection,
            exchange="kucoin",
            currency="BTC",
            destination="bc1q",
            amount=Decimal("0.01"),
        )
        HistoryEntry.objects.create(
            tenant=tenant,
            connection=connection,
            user=user,
            exchange="kucoin",
            kind="deposit",
            external_id=f"d{i}",
            currency="BTC",
            amount=Decimal("1"),
            occurred_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        )
        ExportJob.objects.create(
            tenant=tenant,
            requested_by=user,
            scope="user",
            scope_user=user,
            kinds=["trade"],
            format="csv",
            date_from=datetime.date(2026, 1, 1),
            date_to=datetime.date(2026, 1, 2),
        )
        record_audit_event(tenant=tenant, action="test.row", actor=user)


# The portal's other changelists, by model: the same nine queries as above, and what their filters add.
MORE_CHANGELISTS = {
    "exchangecredential": 9,
    "withdrawallimit": 9,
    "tradeorder": 10,  # the exchanges the tenant's orders are on, for the exchange filter
    "webhookendpoint": 9,
    # The endpoint filter's choices (the tenant's endpoints), the date hierarchy's range and its days, and the
    # event type filter's choices.
    "webhookdelivery": 13,
    "payoutbatch": 9,
    "tenant": 9,  # a broker admin's list holds their own tenant only
}
PORTAL_APPS = {
    "broker_portal",
    "connectors",
    "withdrawals",
    "exports",
    "webhooks",
    "payouts",
    "trading",
    "deposits",
    "api",
    "monitoring",
}


def add_more_rows(tenant, count, start=0):
    """Rows of the models add_rows leaves out: credentials, limits, orders, webhooks and payout batches."""
    endpoint = webhook_services.endpoint_create(tenant=tenant, url=f"https://hooks.{tenant.slug}.example/{start}")[0]
    for i in range(start, start + count):
        user = make_member(tenant, f"more{i}@{tenant.slug}.example")
        connection = ExchangeConnection.objects.create(
            tenant=tenant, user=user, exchange="kucoin", exchange_account_id=f"more-{i}"
        )
        ExchangeCredential.objects.create(
            tenant=tenant,
            exchange="oauth2",
            server_slug=f"server-{i}",
            client_id=f"client-{i}",
            authorize_base_url="https://auth.test",
            api_base_url="https://api.test",
        )
        WithdrawalLimit.objects.create(tenant=tenant, scope="per_user", window_hours=i + 1, max_usdt=Decimal("100"))
        TradeOrder.objects.create(
            tenant=tenant,
            connection=connection,
            user=user,
            exchange="kucoin",
            symbol="BTC-USDT",
            base="BTC",
            quote="USDT",
            side="buy",
            type="limit",
            size=Decimal("0.01"),
            price=Decimal("60000"),
            client_order_id=f"order{i:08d}",
            status="open",
        )
        webhook_services.event_record(
            tenant=tenant,
            type="connection.connected",
            payload={
                "connection_id": connection.pk,
                "user_id": user.pk,
                "exchange": "kucoin",
                "server": "",
                "permissions": ["General"],
            },
        )
        batch = PayoutBatch.objects.create(tenant=tenant, name=f"Batch {i}", created_by=user)
        Payout.objects.create(
            tenant=tenant,
            batch=batch,
            connection=connection,
            user=user,
            asset="USDT",
            network="trx",
            amount=Decimal("1"),
            reference=f"ref-{i}",
        )
    return endpoint


def page_queries(client, path) -> list[str]:
    client.get(path)  # the first request may refresh the session; the second is the steady state
    with CaptureQueriesContext(db_connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize("path", CHANGELISTS)
def test_changelists_cost_the_same_exact_queries_for_few_rows_or_many(admin_client, tenant, path):
    add_rows(tenant, 1)
    few = page_queries(admin_client, path)
    add_rows(tenant, 6, start=1)
    many = page_queries(admin_client, path)
    shown = "\n".join(many)
    assert len(few) == len(many) == CHANGELISTS[path], shown
    assert not any("DISTINCT" in sql for sql in many), shown


@pytest.mark.parametrize("model_name", MORE_CHANGELISTS)
def test_the_other_changelists_cost_the_same_exact_queries_for_few_rows_or_many(admin_client, tenant, model_name):
    path = next(changelist for changelist in changelists() if changelist.rstrip("/").endswith(f"/{model_name}"))
    add_more_rows(tenant, 1)
    few = page_queries(admin_client, path)
    add_more_rows(tenant, 6, start=1)
    many = page_queries(admin_client, path)
    shown = "\n".join(many)
    assert len(few) == len(many) == MORE_CHANGELISTS[model_name], shown


def changelists() -> list[str]:
    from django.contrib import admin
    from django.urls import reverse

    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
        if model._meta.app_label in PORTAL_APPS
    ]


def test_every_changelist_of_the_portal_has_its_exact_query_count(admin_client):
    from django.contrib import admin
    from django.urls import reverse

    missing = [
        path
        for path in changelists()
        if path not in CHANGELISTS and path.rstrip("/").rsplit("/", 1)[-1] not in MORE_CHANGELISTS
    ]
    assert not missing, missing
    # The other apps' admins (groups, e-mail addresses, authenticators, social accounts) are the superuser's alone.
    others = [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
        if model._meta.app_label not in PORTAL_APPS
    ]
    assert others and {path: admin_client.get(path).status_code for path in others} == dict.fromkeys(others, 403)


@pytest.mark.parametrize("path", CHANGELISTS)
def test_changelists_count_at_most_the_cap_and_never_the_whole_table(admin_client, tenant, path, monkeypatch):
    add_rows(tenant, 4)
    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 3)
    response = admin_client.get(path)
    assert response.context["cl"].result_count == 3
    assert response.context["cl"].full_result_count is None  # the unfiltered total is not counted at all


def test_the_capped_list_still_pages_to_its_last_counted_row(admin_client, tenant, monkeypatch):
    add_rows(tenant, 5)
    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 4)
    monkeypatch.setattr("broker_portal.admin.AuditEventAdmin.list_per_page", 2)
    page = admin_client.get("/admin/broker_portal/auditevent/?p=2")
    assert page.status_code == 200 and len(page.context["cl"].result_list) == 2


def test_the_membership_form_searches_users_instead_of_listing_the_tenant(admin_client, tenant, other_tenant):
    add_rows(tenant, 3)
    make_member(other_tenant, "stranger@beta.example")
    membership = Membership.objects.get(user__email="user0@alpha.example")
    page = admin_client.get(f"/admin/broker_portal/membership/{membership.pk}/change/").content.decode()
    assert "user0@alpha.example" in page and "user1@alpha.example" not in page  # only the chosen one is rendered
    found = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "broker_portal", "model_name": "membership", "field_name": "user", "term": "example"},
    ).json()
    emails = {row["text"] for row in found["results"]}
    assert "user1@alpha.example" in emails and "stranger@beta.example" not in emails
