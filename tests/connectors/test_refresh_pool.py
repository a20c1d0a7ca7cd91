"""A threaded worker process on a small PostgreSQL pool runs more refreshes at once than it has database
connections: none is held during a token call. Real worker, real Redis, the live sandbox's token endpoint made
slow, and PostgreSQL's own count of the worker's connections (pg_stat_activity)."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.db import connection as db_connection

from connectors.models import ExchangeConnection
from connectors.token_refresh import connections_sweep
from sandbox import faults as sandbox_faults
from tests.connectors.helpers import assert_alive_at_the_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]
# Unique to this test process: a worker left behind by another run must not count as this one's.
APPLICATION_NAME = f"refresh-pool-test-worker-{os.getpid()}"
THREADS, POOL, SLOW_SECONDS = 8, 2, 4


@pytest.fixture
def pooled_worker(settings, tmp_path):
    database = db_connection.settings_dict
    url = (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        f"?application_name={APPLICATION_NAME}"
    )
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery", "unacked", "unacked_index")
    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "broker_portal.celery:app",
            "worker",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=PROJECT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "broker_portal.settings.test",
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "LOG_LEVEL": "WARNING",
            "CELERY_WORKER_POOL": "threads",
            "CELERY_WORKER_CONCURRENCY": str(THREADS),
            "DATABASE_POOL_MAX_SIZE": str(POOL),
        },
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    broker.delete("celery", "unacked", "unacked_index")
    print((tmp_path / "worker.log").read_text()[-3000:])


def worker_connections() -> tuple[int, int]:
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "
            "WHERE application_name = %s",
            [APPLICATION_NAME],
        )
        return cursor.fetchone()


def test_eight_refreshes_in_flight_on_two_database_connections(make_connection, pooled_worker):
    connections = [make_connection("kraken") for _ in range(THREADS)]
    # Every token call waits at the exchange: all eight are in flight at once, each for SLOW_SECONDS.
    sandbox_faults.fault_set(
        exchange="kraken", endpoint="token", kind="slow", count=THREADS, delay_seconds=SLOW_SECONDS
    )
    assert connections_sweep()["enqueued"] == THREADS
    deadline, most_open = time.monotonic() + 120, 0
    while time.monotonic() < deadline:
        most_open = max(most_open, worker_connections()[0])
        if (
            ExchangeConnection.objects.filter(
                pk__in=[c.pk for c in connections], last_refreshed_at__isnull=False
            ).count()
            == THREADS
        ):
            break
        time.sleep(0.1)
    for connection in connections:
        connection.refresh_from_db()
        assert connection.status == "active" and connection.last_refreshed_at, connection.last_error
        assert_alive_at_the_sandbox(connection)
    # Each refresh took its claim (last_refreshed_at) before the first call came back: all eight were in flight
    # at once, and had each held a database connection through its call, eight would have been open.
    claimed = sorted(connection.last_refreshed_at for connection in connections)
    assert claimed[-1] - claimed[0] < timedelta(seconds=SLOW_SECONDS)
    assert 1 <= most_open <= POOL
