"""The sweep and the refresh tasks: faults, cost, hygiene, a real worker on Redis, and the admin's health view."""

import json
import time
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from broker_portal import services
from broker_portal.celery import app as celery_app
from broker_portal.models import AuditEvent, Membership
from connectors import token_refresh
from connectors.models import ExchangeConnection
from connectors.tasks import refresh_connection, send_connection_notice, sweep_token_refresh
from connectors.token_refresh import connections_sweep
from sandbox import faults as sandbox_faults
from tests.connectors.helpers import assert_alive_at_the_sandbox
from tests.helpers import QueuedTask, exact_queries

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]

# The exchanges whose connections live by a refreshed token (OKX's credential is its API key: never refreshed).
TOKEN_ENDPOINTS = {"kucoin": "refresh-token", "kraken": "token", "peatio": "token"}


@pytest.fixture
def seeded_faults(monkeypatch):
    """The same calls meet the same faults on every run (the eager tasks make them one after another); yields the
    kinds of the faults the sandbox served, in order, so a test can tell that its faults did strike."""
    struck = []
    claim = sandbox_faults._claim_fault

    def recording(*args, **kwargs):
        fault = claim(*args, **kwargs)
        if fault is not None:
            struck.append(fault.kind)
        return fault

    monkeypatch.setattr(sandbox_faults, "_claim_fault", recording)
    sandbox_faults.fault_seed(20)
    yield struck
    sandbox_faults.fault_seed(None)


def test_sweep_with_30_percent_faults_refreshes_all_and_loses_none(make_connection, token_calls, seeded_faults):
    connections = [make_connection(exchange) for exchange in TOKEN_ENDPOINTS for _ in range(5)]
    later = make_connection("kucoin", access_expires_in=timedelta(hours=1))
    for exchange, endpoint in TOKEN_ENDPOINTS.items():
        # Three kinds at 11.3% each: 30% of calls fail, all before the exchange rotates anything.
        for kind in ("500", "429", "reset"):
            sandbox_faults.fault_set(exchange=exchange, endpoint=endpoint, kind=kind, probability=0.113, retry_after=1)
    started = timezone.now()
    okx = make_connection("okx")  # due by its access token, but never refreshed
    assert sweep_token_refresh.delay().get() == {"enqueued": 15, "warned": 0}
    for connection in connections:
        connection.refresh_from_db()
        assert connection.status == "active", connection.last_error
        assert connection.last_refreshed_at >= started and connection.refresh_failures == 0
        assert connection.access_expires_at > timezone.now() + timedelta(minutes=50)
        assert_alive_at_the_sandbox(connection)
    # Faults of every kind struck, each before the exchange rotated anything: each failed call was retried once more.
    assert set(seeded_faults) == {"500", "429", "reset"}, seeded_faults
    assert len(token_calls) == 15 + len(seeded_faults), (len(token_calls), seeded_faults)
    okx.refresh_from_db()
    assert okx.status == "active" and okx.last_refreshed_at is None
    assert AuditEvent.objects.filter(action="connection.refresh_failing").exists()
    assert not AuditEvent.objects.filter(action="connection.needs_reauthorization").exists()
    later.refresh_from_db()
    assert later.last_refreshed_at is None
    # Everything is fresh now: the next sweep has nothing to do.
    assert connections_sweep() == {"enqueued": 0, "warned": 0}


@pytest.fixture
def bare_connections(tenant, member):
    now = timezone.now()

    def make(count, *, due):
        expires = now + (timedelta(minutes=3) if due else timedelta(hours=2))
        ExchangeConnection.objects.bulk_create(
            ExchangeConnection(
                tenant=tenant,
                user=member,
                exchange="kucoin",
                exchange_account_id=f"{due}-{i}-{time.monotonic_ns()}",
                access_expires_at=expires,
            )
            for i in range(count)
        )

    return make


def test_sweep_cost_follows_the_due_connections_not_all(bare_connections, monkeypatch):
    enqueued = []
    monkeypatch.setattr(token_refresh, "enqueue_refreshes", enqueued.extend)
    bare_connections(3, due=True)
    bare_connections(10, due=False)
    with CaptureQueriesContext(db_connection) as few:
        assert connections_sweep()["enqueued"] == 3
    bare_connections(3, due=True)
    bare_connections(200, due=False)
    with CaptureQueriesContext(db_connection) as many:
        assert connections_sweep()["enqueued"] == 3
    assert len(many) == len(few), "\n".join(query["sql"] for query in many.captured_queries)
    # The claim keeps a queued connection from being enqueued again by the next sweep.
    assert connections_sweep()["enqueued"] == 0 and len(enqueued) == 6 == len(set(enqueued))
    sql = next(query["sql"] for query in few.captured_queries if "FOR UPDATE" in query["sql"])
    assert "FOR UPDATE SKIP LOCKED" in sql and '"access_expires_at" <=' in sql


def test_sweep_reads_in_batches(bare_connections, monkeypatch):
    batches = []
    monkeypatch.setattr(token_refresh, "enqueue_refreshes", batches.append)
    bare_connections(5, due=True)
    assert connections_sweep(batch_size=2)["enqueued"] == 5
    assert [len(batch) for batch in batches] == [2, 2, 1]


def test_sweep_flags_a_lapsing_refresh_token_before_it_lapses(make_connection, mailoutbox):
    connection = make_connection(
        "kraken", access_expires_in=timedelta(hours=20), refresh_expires_at=timezone.now() + timedelta(hours=2)
    )
    assert connections_sweep() == {"enqueued": 0, "warned": 1}
    connection.refresh_from_db()
    assert connection.refresh_lapse_warned_at and connection.status == "active"
    assert AuditEvent.objects.filter(action="connection.refresh_lapsing").count() == 1
    assert len(mailoutbox) == 1
    assert connections_sweep() == {"enqueued": 0, "warned": 0}  # told once


def test_tasks_take_ids_are_late_acked_time_limited_and_json(make_connection, celery_broker_tasks):
    for task in (refresh_connection, sweep_token_refresh, send_connection_notice):
        assert task.acks_late and task.time_limit and task.soft_time_limit
    assert celery_app.conf.task_serializer == "json" and celery_app.conf.accept_content == ["json"]
    schedule = django_settings.CELERY_BEAT_SCHEDULE["connectors-token-refresh-sweep"]
    assert schedule["task"] == sweep_token_refresh.name and schedule["schedule"] == 60.0
    connection = make_connection("kucoin")
    connections_sweep()
    # Its id in a JSON message, and no countdown (ETA): a message with one would wait in a worker's memory, lost
    # with the worker.
    assert celery_broker_tasks() == [QueuedTask(name=refresh_connection.name, args=[connection.pk, False], eta=None)]
    # Running a task twice is harmless: the second finds the connection fresh.
    assert refresh_connection.run(connection.pk) == "refreshed"
    assert refresh_connection.run(connection.pk) == "fresh"


@pytest.fixture
def real_worker():
    celery_app.conf.task_always_eager = False
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def test_a_real_worker_on_redis_refreshes_what_the_sweep_enqueued(make_connection, real_worker):
    connection = make_connection("kraken")
    assert connections_sweep()["enqueued"] == 1
    for _ in range(100):
        connection.refresh_from_db()
        if connection.last_refreshed_at:
            break
        time.sleep(0.1)
    assert connection.last_refreshed_at and connection.status == "active"
    assert_alive_at_the_sandbox(connection)


@pytest.fixture
def admin_client(portal):
    admin = services.member_create(
        tenant=portal["tenant"],
        email="boss@live.example",
        password="x-pass-123456",
        role=Membership.Role.BROKER_ADMIN,
        email_verified=True,
    )
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    return client


def test_admin_shows_health_and_refreshes_now(admin_client, make_connection, token_calls):
    healthy = make_connection("kucoin", access_expires_in=timedelta(hours=1))
    failing = make_connection(
        "kucoin",
        refresh_failures=3,
        last_error="KuCoin could not renew access just now.",
        next_refresh_attempt_at=timezone.now() + timedelta(minutes=7),
    )
    refused = make_connection("kraken", status="error", last_error="Kraken refused to renew access.")
    make_connection("peatio", status="needs_reauthorization")
    # The admin's usual nine (tests/test_admin_scale.py) and the health summary's three: the count by status (the
    # tenant's first view fills the cache with it), the failing connections, the lapsing refresh tokens.
    with exact_queries(12):
        page = admin_client.get("/admin/connectors/exchangeconnection/")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="connection-health"' in html
    assert f"counted {page.context['counted_seconds_ago']} s ago" in html
    assert 'data-status="active">2<' in html and 'data-status="error">1<' in html
    assert 'data-status="needs_reauthorization">1<' in html
    assert f'data-connection="{failing.pk}"' in html and "KuCoin could not renew access just now." in html
    assert f'data-connection="{refused.pk}"' in html and f'data-connection="{healthy.pk}"' not in html
    assert failing.access_token not in html and failing.refresh_token not in html

    response = admin_client.post(
        "/admin/connectors/exchangeconnection/",
        {"action": "refresh_now", "_selected_action": [healthy.pk, failing.pk, refused.pk]},
        follow=True,
    )
    assert "Refresh queued for 3 connection(s)." in response.content.decode()
    assert len(token_calls) == 3
    for connection in (healthy, failing, refused):
        connection.refresh_from_db()
        assert connection.status == "active" and connection.refresh_failures == 0 and not connection.last_error
    assert AuditEvent.objects.filter(action="connection.refresh_requested").count() == 3


def test_sweep_refreshes_tokens_the_exchanges_clock_has_long_expired(make_connection, token_calls):
    """The exchange's clock is two days ahead: every access token is dead there, the refresh tokens are not. The
    three exchanges that refresh do; OKX, whose credential is its API key, is left alone and stays active."""
    from sandbox import clock as sandbox_clock

    connections = [make_connection(exchange) for exchange in TOKEN_ENDPOINTS]
    okx = make_connection("okx")
    sandbox_clock.set_offset(2 * 24 * 3600)
    assert connections_sweep()["enqueued"] == 3
    for connection in connections:
        connection.refresh_from_db()
        assert connection.status == "active" and connection.last_refreshed_at
        assert_alive_at_the_sandbox(connection)
    assert len(token_calls) == 3
    okx.refresh_from_db()
    assert okx.status == "active" and okx.last_refreshed_at is None


def test_the_sweeps_claim_reads_an_index_without_the_connections_in_backoff(tenant, member):
    """Many due connections backing off and a few due ones free: PostgreSQL's plan for the claim's read reads the
    partial index, and no row in backoff passes through it to be filtered out."""
    from django.db import transaction

    now = timezone.now()
    ExchangeConnection.objects.bulk_create(
        [
            ExchangeConnection(
                tenant=tenant,
                user=member,
                exchange="kucoin",
                exchange_account_id=f"{kind}-{i}",
                refresh_failures=3,
                access_expires_at=now + timedelta(minutes=3 if kind != "later" else 90),
                next_refresh_attempt_at=now + timedelta(minutes=20) if kind == "backoff" else None,
            )
            for kind, count in (("backoff", 3000), ("free", 20), ("later", 1000))
            for i in range(count)
        ]
    )
    with db_connection.cursor() as cursor:
        cursor.execute("ANALYZE connectors_exchangeconnection")
    unclaimed = token_refresh.sweep_claim_reads(now=now)[-1][: token_refresh.SWEEP_BATCH_SIZE]
    with transaction.atomic(), db_connection.cursor() as cursor:
        sql, params = unclaimed.query.sql_with_params()
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = json.dumps(cursor.fetchone()[0])
    assert '"Index Name": "connection_due_unclaimed"' in plan, plan
    assert '"Rows Removed by Filter"' not in plan or '"Rows Removed by Filter": 0' in plan, plan
    with transaction.atomic():
        assert len(list(unclaimed)) == 20


def test_a_big_batch_leaves_the_sweep_as_one_message_and_a_worker_publishes_its_refreshes(
    bare_connections, celery_broker_tasks
):
    from connectors.tasks import publish_refreshes

    due = token_refresh.FAN_OUT_ABOVE + 10
    bare_connections(due, due=True)
    bare_connections(3, due=False)
    assert connections_sweep()["enqueued"] == due
    [batch] = celery_broker_tasks()
    assert batch.name == publish_refreshes.name and len(batch.args[0]) == due and batch.args[1] is False
    assert publish_refreshes.run(*batch.args) == due  # as the worker that takes the message does
    sent = celery_broker_tasks()[1:]
    assert {task.name for task in sent} == {refresh_connection.name} and {task.eta for task in sent} == {None}
    assert [task.args for task in sent] == [[connection_id, False] for connection_id in batch.args[0]]
    assert publish_refreshes.acks_late and publish_refreshes.time_limit
