"""The export benchmark's pieces, importable so a test runs them with tiny sizes."""

import random
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import connection

from broker_portal import services as portal_services
from broker_portal.models import Membership, Tenant
from connectors.models import ExchangeConnection
from exports.formats import FORMATS
from exports.models import ExportJob, HistoryEntry
from exports.selectors import history_for_export
from exports.services.jobs import export_run
from exports.services.writers import copy_statement, export_path, exports_dir

COLUMNS = [
    "tenant_id",
    "connection_id",
    "user_id",
    "exchange",
    "kind",
    "external_id",
    "occurred_at",
    "entry_type",
    "side",
    "currency",
    "amount",
    "quote_currency",
    "fee",
    "fee_currency",
    "balance",
    "address",
    "txid",
    "status",
]
RAW_SQL = (
    "COPY (SELECT occurred_at, amount, currency, fee, fee_currency, entry_type, external_id, txid "
    "FROM exports_historyentry WHERE connection_id = %s AND kind = 'ledger' ORDER BY occurred_at, id) "
    "TO STDOUT WITH CSV"
)
START = datetime(2023, 1, 1, tzinfo=UTC)
# Kraken ledger types that are movements of their own, so Koinly's file holds every row (a trade, deposit or
# withdrawal entry repeats another row and is left out: exports/MAPPING.md).
LEDGER_TYPES = ["staking", "fee", "earn", "credit"]


def bench_connection(rows: int) -> ExchangeConnection:
    """A tenant per size holding exactly ``rows`` ledger entries (kept between runs, rebuilt if the size changed)."""
    slug = f"bench-{rows}"
    tenant = Tenant.objects.filter(slug=slug).first() or portal_services.tenant_create(
        name=f"Bench {rows}", slug=slug, hosts=[f"{slug}.bench.localhost"]
    )
    user = (
        portal_services.member_create(
            tenant=tenant,
            email=f"{slug}@bench.example",
            password="bench-password-1",
            role=Membership.Role.MEMBER,
            email_verified=True,
        )
        if not tenant.memberships.exists()
        else tenant.memberships.get().user
    )
    conn, _ = ExchangeConnection.objects.get_or_create(tenant=tenant, user=user, exchange="kraken")
    if HistoryEntry.objects.filter(connection=conn).count() != rows:
        HistoryEntry.objects.filter(connection=conn).delete()
        seed_ledger(conn, rows)
    return conn


def seed_ledger(conn: ExchangeConnection, rows: int) -> None:
    rng = random.Random(rows)
    step = timedelta(days=700) / max(rows, 1)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY exports_historyentry ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            balance = Decimal(0)
            for index in range(rows):
                amount = Decimal(rng.randint(-300_000_000, 300_000_000)).scaleb(-8)
                balance += amount
                copy.write_row(
                    [
                        conn.tenant_id,
                        conn.pk,
                        conn.user_id,
                        "kraken",
                        "ledger",
                        f"L{index:012d}",
                        START + step * index,
                        rng.choice(LEDGER_TYPES),
                        "",
                        rng.choice(["BTC", "ETH", "USDT", "SOL"]),
                        amount,
                        "",
                        Decimal(rng.randint(0, 1000)).scaleb(-8),
                        "USDT",
                        balance,
                        "",
                        f"R{index:012d}",
                        "",
                    ]
                )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE exports_historyentry")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def new_job(conn: ExchangeConnection) -> ExportJob:
    job = ExportJob.objects.create(
        tenant_id=conn.tenant_id,
        scope="connection",
        scope_connection=conn,
        kinds=["ledger"],
        format="koinly",
        date_from=date(2000, 1, 1),
        date_to=date(2100, 12, 31),
    )
    return ExportJob.objects.select_related("tenant").get(pk=job.pk)


def copy_seconds(conn: ExchangeConnection, *, same_select: bool) -> float:
    """PostgreSQL's own COPY of the same rows to a file, straight from the server: the floor. ``same_select``:
    the export's own SELECT (Koinly's columns formatted in SQL); otherwise the raw columns."""
    if same_select:
        statement, params = copy_statement(
            entries=history_for_export(job=new_job(conn)), export_format=FORMATS["koinly"]
        )
    else:
        statement, params = RAW_SQL, [conn.pk]
    with tempfile.NamedTemporaryFile(dir=exports_dir()) as file:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            with cursor.cursor.copy(statement, params) as copy:
                for block in copy:
                    file.write(block)
        file.flush()
        return time.perf_counter() - started


def export_seconds(conn: ExchangeConnection, *, use_copy: bool | None = None) -> tuple[float, ExportJob]:
    job = new_job(conn)
    started = time.perf_counter()
    job = export_run(job=job, use_copy=use_copy)
    elapsed = time.perf_counter() - started
    Path(export_path(job)).unlink()
    return elapsed, job


def measure(rows: int, mode: str) -> dict:
    """One measurement; run each in a fresh process so its peak memory is its own."""
    conn = bench_connection(rows)
    before = peak_rss_mib()
    if mode.startswith("copy_"):
        return {
            "seconds": round(copy_seconds(conn, same_select=mode == "copy_same_select"), 3),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "rss_before_mib": round(before, 1),
        }
    seconds, job = export_seconds(conn, use_copy={"export": None, "export_python": False}[mode])
    assert job.rows_written == rows, (job.rows_written, rows)
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_before_mib": round(before, 1),
        "bytes": job.size_bytes,
    }
