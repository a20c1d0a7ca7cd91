"""python -m bench.refresh.sweep --connections 1000000   (see bench/README.md, "The sweep at a million")

The token refresh sweep (connectors.token_refresh.connections_sweep, what beat runs every minute) over a tenant of
one-hour connections as they stand in steady state: their access tokens expire evenly over the coming hour, so
each minute a sixtieth of them comes due (16,667 of a million), plus --backoff connections that are due by
their expiry but backing off after failures (the sweep must leave them alone, at no cost). Seeded once with
one INSERT … SELECT from generate_series (kept for the next run), analysed, then swept --runs times; before
each run the previous run's claims are undone. The sweep enqueues for real, onto a queue no worker reads
(emptied afterwards). Prints the plan of the claim's first read (EXPLAIN ANALYZE), each run's time, and how
much of it went to publishing the tasks; one JSON object last."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
QUEUE = "bench-sweep"
SLUG = "bench-sweep"


def seed(*, connections: int, backoff: int) -> tuple[int, object]:
    """The tenant's connections, made once: answers the tenant's id and when they were made (every run sweeps
    as of then, so each finds the same connections due however long ago they were seeded)."""
    from datetime import timedelta

    from django.db import connection as db
    from django.utils import timezone

    from broker_portal import services
    from broker_portal.models import Membership, Tenant, User
    from connectors.models import ExchangeConnection
    from connectors.token_refresh import refresh_window

    tenant = Tenant.objects.filter(slug=SLUG).first() or services.tenant_create(
        name="Sweep Bench", slug=SLUG, hosts=["bench-sweep.localhost"]
    )
    user = User.objects.filter(email="bench@sweep.example").first() or services.member_create(
        tenant=tenant,
        email="bench@sweep.example",
        password="bench-sweep-pass",
        role=Membership.Role.MEMBER,
        email_verified=True,
    )
    rows = ExchangeConnection.objects.filter(tenant=tenant)
    if rows.count() == connections + backoff + 1:
        return tenant.pk, rows.get(exchange_account_id="template").created_at
    rows._raw_delete(rows.db)  # nothing refers to the benchmark's connections; one DELETE, not one per row
    template = ExchangeConnection.objects.create(
        tenant=tenant,
        user=user,
        exchange="kucoin",
        exchange_account_id="template",
        permissions=["API_COMMON"],
        access_token="an-access-token",
        refresh_token="a-refresh-token",
        status="revoked",
        access_expires_at=timezone.now() + timedelta(days=365),
    )
    window = int(refresh_window().total_seconds())
    table = ExchangeConnection._meta.db_table
    columns = [field.column for field in ExchangeConnection._meta.concrete_fields if field.column != "id"]
    # Steady state for one-hour tokens refreshed `window` before expiry: expiries spread evenly from one minute
    # before the window's edge (due now) to an hour after it. The backing-off ones are due, and wait.
    healthy = {
        "exchange_account_id": "'sweep-' || g",
        "status": "'active'",
        "access_expires_at": f"now() + make_interval(secs => {window} - 60 + 3600.0 * g / {connections})",
        "refresh_expires_at": "now() + interval '3 days'",
        "next_refresh_attempt_at": "NULL",
    }
    failing = {
        "exchange_account_id": "'backoff-' || g",
        "status": "'active'",
        "access_expires_at": f"now() + make_interval(secs => {window} - 3600.0 * g / {max(backoff, 1)})",
        "refresh_expires_at": "now() + interval '3 days'",
        "refresh_failures": "3",
        "next_refresh_attempt_at": f"now() + make_interval(secs => 60 + 1800.0 * g / {max(backoff, 1)})",
    }
    with db.cursor() as cursor:
        for count, values in ((connections, healthy), (backoff, failing)):
            if count:
                select = ", ".join(values.get(column, f"t.{column}") for column in columns)
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table} t, "
                    f"generate_series(1, {count}) g WHERE t.id = %s",
                    [template.pk],
                )
        cursor.execute(f"ANALYZE {table}")
    return tenant.pk, template.created_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1_000_000, help="one-hour connections, healthy")
    parser.add_argument("--backoff", type=int, default=100_000, help="due connections backing off")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "broker_portal.settings.test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection as db

    from broker_portal.celery import app
    from connectors import token_refresh
    from connectors.models import ExchangeConnection

    app.conf.task_default_queue = QUEUE
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    tenant_id, seeded_at = seed(connections=options.connections, backoff=options.backoff)
    print(
        f"seeded or found {options.connections:,} + {options.backoff:,} connections "
        f"({time.perf_counter() - started:.1f} s)",
        flush=True,
    )

    publishing = {"seconds": 0.0}
    enqueue = token_refresh.enqueue_refreshes

    def timed_enqueue(ids, **kwargs):
        began = time.perf_counter()
        enqueue(ids, **kwargs)
        publishing["seconds"] += time.perf_counter() - began

    token_refresh.enqueue_refreshes = timed_enqueue
    runs = []
    for run in range(options.runs):
        now = seeded_at
        ExchangeConnection.objects.filter(tenant_id=tenant_id, refresh_failures=0).exclude(
            next_refresh_attempt_at=None
        ).update(next_refresh_attempt_at=None)
        if run == 0:
            print(explain_first_claim(db, now), flush=True)
        publishing["seconds"] = 0.0
        began = time.perf_counter()
        swept = token_refresh.connections_sweep(now=now)
        seconds = time.perf_counter() - began
        runs.append(
            {
                "seconds": round(seconds, 3),
                "enqueued": swept["enqueued"],
                "publishing_seconds": round(publishing["seconds"], 3),
            }
        )
        print(
            f"run {run + 1}: {swept['enqueued']:,} enqueued in {seconds:.2f} s "
            f"({publishing['seconds']:.2f} s of it publishing the tasks)",
            flush=True,
        )
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(QUEUE)
    print(
        json.dumps(
            {
                "benchmark": "refresh_sweep",
                "connections": options.connections,
                "backoff": options.backoff,
                "runs": runs,
                "best_seconds": min(run["seconds"] for run in runs),
            }
        )
    )


def explain_first_claim(db, now) -> str:
    """The plan of the sweep's read of unclaimed due connections, as it runs: it must read the partial index
    that holds no connection in backoff."""
    from django.db import transaction

    from connectors.token_refresh import SWEEP_BATCH_SIZE, sweep_claim_reads

    queryset = sweep_claim_reads(now=now)[-1][:SWEEP_BATCH_SIZE]
    with transaction.atomic(), db.cursor() as cursor:  # its locks end with the transaction
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


if __name__ == "__main__":
    main()
