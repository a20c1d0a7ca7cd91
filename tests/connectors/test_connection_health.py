"""The connections changelist's health summary: its counts by status come from a per-tenant cache, are shown with
their age and taken by one request at a time; the failing connections and the lapsing count are read on each view,
through partial indexes that hold only their rows."""

import json
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from broker_portal.models import User
from connectors.models import ExchangeConnection
from connectors.selectors import connection_health, health_counts_key
from tests.helpers import exact_queries, make_member

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/connectors/exchangeconnection/"


def add_connections(tenant, user, count, prefix, **fields):
    ExchangeConnection.objects.bulk_create(
        ExchangeConnection(tenant=tenant, user=user, exchange="kucoin", exchange_account_id=f"{prefix}-{i}", **fields)
        for i in range(count)
    )


def counts(health) -> dict:
    return {row["status"]: row["count"] for row in health["status_rows"]}


def test_the_counts_are_taken_once_per_tenant_and_shown_with_their_age(tenant, other_tenant, member, settings):
    settings.CONNECTION_HEALTH_COUNTS_SECONDS = 60
    add_connections(tenant, member, 3, "ours")
    add_connections(other_tenant, make_member(other_tenant, "stranger@beta.example"), 5, "theirs", status="error")
    now = timezone.now()
    with exact_queries(3):  # the counts by status, the failing connections, the lapsing count
        first = connection_health(tenant=tenant, now=now)
    assert counts(first) == {"active": 3, "refreshing": 0, "needs_reauthorization": 0, "revoked": 0, "error": 0}
    assert first["counted_at"] == now and first["counted_seconds_ago"] == 0 and first["failing"] == []
    assert cache.get(f"{health_counts_key(tenant.pk)}:counting") is None  # the fill let go of its lock

    add_connections(tenant, member, 2, "later")
    with exact_queries(2):  # counted 59 s ago: the cached counts, as they were then
        cached = connection_health(tenant=tenant, now=now + timedelta(seconds=59))
    assert counts(cached)["active"] == 3 and cached["counted_seconds_ago"] == 59 and cached["counted_at"] == now

    with exact_queries(3):  # another tenant's counts are its own, taken for it
        theirs = connection_health(tenant=other_tenant, now=now + timedelta(seconds=59))
    assert counts(theirs)["error"] == 5 and counts(theirs)["active"] == 0 and len(theirs["failing"]) == 5

    with exact_queries(3):  # as old as CONNECTION_HEALTH_COUNTS_SECONDS: counted again
        recounted = connection_health(tenant=tenant, now=now + timedelta(seconds=60))
    assert counts(recounted)["active"] == 5 and counts(recounted)["error"] == 0
    assert recounted["counted_seconds_ago"] == 0 and recounted["failing"] == []


def test_one_request_at_a_time_counts_a_tenant_the_others_show_the_last_counts(tenant, member, settings):
    settings.CONNECTION_HEALTH_COUNTS_SECONDS = 60
    add_connections(tenant, member, 2, "ours")
    lock = f"{health_counts_key(tenant.pk)}:counting"
    now = timezone.now()
    cache.add(lock, "another request's", 30)  # another request is counting the tenant
    with exact_queries(2):  # nothing counted yet, and this request does not count too
        waiting = connection_health(tenant=tenant, now=now)
    assert waiting["counted_at"] is None and set(counts(waiting).values()) == {None}

    cache.delete(lock)  # that request ends (the test stands in for its count)
    connection_health(tenant=tenant, now=now)
    cache.add(lock, "another request's", 30)
    add_connections(tenant, member, 1, "later")
    with exact_queries(2):  # due again, but another request is counting: the last counts with their age
        stale = connection_health(tenant=tenant, now=now + timedelta(seconds=300))
    assert counts(stale)["active"] == 2 and stale["counted_seconds_ago"] == 300
    assert cache.get(lock) == "another request's"  # a request that did not take the lock leaves it alone


@pytest.fixture
def two_tenants_of_health(tenant, other_tenant, member):
    add_connections(tenant, member, 2, "healthy")
    failing = ExchangeConnection.objects.create(
        tenant=tenant,
        user=member,
        exchange="kucoin",
        exchange_account_id="failing",
        refresh_failures=2,
        last_error="KuCoin could not renew access just now.",
        next_refresh_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    stranger = make_member(other_tenant, "stranger@beta.example")
    theirs = ExchangeConnection.objects.create(
        tenant=other_tenant,
        user=stranger,
        exchange="kraken",
        exchange_account_id="theirs",
        status="error",
        last_error="Kraken refused the other broker.",
    )
    add_connections(other_tenant, stranger, 4, "lapsing", refresh_lapse_warned_at=timezone.now())
    return {"failing": failing, "theirs": theirs}


def assert_only_alphas_health(page: str, rows: dict) -> None:
    html = page.split('id="connection-health"', 1)[1].split("</div>", 1)[0]
    assert 'data-status="active">3<' in html and 'data-status="error">0<' in html
    assert 'data-status="lapsing">0<' in html
    assert f'data-connection="{rows["failing"].pk}"' in html and "KuCoin could not renew access just now." in html
    assert f'data-connection="{rows["theirs"].pk}"' not in html and "Kraken refused the other broker." not in html


def test_the_page_shows_its_tenants_health_and_when_it_was_counted(admin_client, two_tenants_of_health):
    admin_client.get(CHANGELIST)  # counts the tenant's connections
    # The admin's usual nine (tests/test_admin_scale.py), the failing connections and the lapsing count.
    with exact_queries(11):
        page = admin_client.get(CHANGELIST)
    html = page.content.decode()
    counted_at = page.context["counted_at"]
    assert f"counted {page.context['counted_seconds_ago']} s ago ({counted_at:%Y-%m-%d %H:%M:%S} UTC)" in html
    assert_only_alphas_health(html, two_tenants_of_health)


def test_a_superuser_sees_every_tenants_connections_but_the_health_of_the_hosts_tenant(
    client_at, two_tenants_of_health
):
    superuser = User.objects.create_superuser(email="root@platform.example", password="x")
    TOTP.activate(superuser, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = client_at("alpha.localhost")
    client.force_login(superuser)
    page = client.get(CHANGELIST)
    assert page.context["cl"].result_count == 8  # the list: both tenants' connections
    assert_only_alphas_health(page.content.decode(), two_tenants_of_health)


def test_the_page_says_the_counts_are_being_taken_while_another_request_takes_them(admin_client, tenant, member):
    add_connections(tenant, member, 2, "healthy")
    cache.add(f"{health_counts_key(tenant.pk)}:counting", "another request's", 30)
    html = admin_client.get(CHANGELIST).content.decode()
    assert "are being counted; reload in a moment" in html and 'data-status="active">…<' in html


def plan_of(sql: str) -> str:
    with db_connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        return json.dumps(cursor.fetchone()[0])


def test_the_failing_list_and_the_lapsing_count_read_only_their_rows_through_partial_indexes(
    tenant, other_tenant, member
):
    """A tenant of thousands of healthy connections and a few failing or lapsing ones (and another tenant's): the
    plans of the summary's two reads on every view use the partial indexes, and no healthy row passes through
    them to be filtered out."""
    now = timezone.now()
    add_connections(tenant, member, 3000, "healthy", access_expires_at=now + timedelta(hours=1))
    add_connections(
        tenant, member, 5, "backoff", refresh_failures=2, next_refresh_attempt_at=now + timedelta(minutes=5)
    )
    add_connections(tenant, member, 3, "refused", status="error")
    add_connections(tenant, member, 4, "lapsing", refresh_lapse_warned_at=now)
    stranger = make_member(other_tenant, "stranger@beta.example")
    add_connections(other_tenant, stranger, 50, "theirs", refresh_failures=1, refresh_lapse_warned_at=now)
    with db_connection.cursor() as cursor:
        cursor.execute("ANALYZE connectors_exchangeconnection")
    connection_health(tenant=tenant)  # counts by status, into the cache
    with CaptureQueriesContext(db_connection) as captured:
        health = connection_health(tenant=tenant)
    assert len(health["failing"]) == 8 and health["lapsing"] == 4
    failing_sql, lapsing_sql = (query["sql"] for query in captured.captured_queries)
    failing_plan, lapsing_plan = plan_of(failing_sql), plan_of(lapsing_sql)
    assert '"Index Name": "connection_failing"' in failing_plan, failing_plan
    assert '"Node Type": "Sort"' not in failing_plan, failing_plan  # read in the index's order
    assert '"Index Name": "connection_lapse_warned"' in lapsing_plan, lapsing_plan
    for plan in (failing_plan, lapsing_plan):
        assert '"Rows Removed by Filter"' not in plan or '"Rows Removed by Filter": 0' in plan, plan
