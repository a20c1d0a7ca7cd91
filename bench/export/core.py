"""The export benchmark's pieces, importable so a test runs them with tiny sizes."""

import os
import random
import resource
import tempfile
import threading
import time
from contextlib import contextmanager
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


MIB = 1 << 20
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SAMPLE_EVERY_SECONDS = 0.01


def current_rss_mib() -> float:
    """The process's resident memory now (Linux only: /proc/self/statm, its second field in pages)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES / MIB


def max_rss_mib() -> float:
    """The process's peak resident memory since it started (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def measured():
    """Time the block and sample the current RSS from a thread every ~10 ms while it runs: the peak over the
    start is what the block grew by, which ru_maxrss (mostly Django's start-up) cannot show."""
    figures: dict = {}
    stop = threading.Event()
    start = current_rss_mib()
    peak = [start]

    def sample():
        while not stop.wait(SAMPLE_EVERY_SECONDS):
            peak[0] = max(peak[0], current_rss_mib())

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        yield figures
    finally:
        figures["seconds"] = round(time.perf_counter() - started, 3)
        # One last sample before the block's memory can be freed by the caller.
        peak[0] = max(peak[0], current_rss_mib())
        stop.set()
        sampler.join()
        figures["rss_start_mib"] = round(start, 1)
        figures["rss_peak_mib"] = round(peak[0], 1)
        figures["rss_growth_mib"] = round(peak[0] - start, 1)
        figures["max_rss_mib"] = round(max_rss_mib(), 1)


def new_job(conn: ExchangeConnection, export_format: str = "koinly") -> ExportJob:
    job = ExportJob.objects.create(
        tenant_id=conn.tenant_id,
        scope="connection",
        scope_connection=conn,
        kinds=["ledger"],
        format=export_format,
        date_from=date(2000, 1, 1),
        date_to=date(2100, 12, 31),
    )
    return ExportJob.objects.select_related("tenant").get(pk=job.pk)


def copy_measured(conn: ExchangeConnection, *, same_select: bool) -> dict:
    """PostgreSQL's own COPY of the same rows to a file, straight from the server: the floor. ``same_select``:
    the export's own SELECT (Koinly's columns formatted in SQL); otherwise the raw columns."""
    if same_select:
        statement, params = copy_statement(
            entries=history_for_export(job=new_job(conn)), export_format=FORMATS["koinly"]
        )
    else:
        statement, params = RAW_SQL, [conn.pk]
    with tempfile.NamedTemporaryFile(dir=exports_dir()) as file:
        with measured() as figures:
            with connection.cursor() as cursor:
                with cursor.cursor.copy(statement, params) as copy:
                    for block in copy:
                        file.write(block)
            file.flush()
    return figures


def export_measured(conn: ExchangeConnection, rows: int, *, export_format: str, use_copy: bool | None) -> dict:
    job = new_job(conn, export_format)
    with measured() as figures:
        job = export_run(job=job, use_copy=use_copy)
    Path(export_path(job)).unlink()
    assert job.rows_written == rows, (job.rows_written, rows)
    return figures | {"bytes": job.size_bytes}


# mode: (ExportJob format, use_copy); None lets the export choose, as the worker does.
EXPORT_MODES = {"export": ("koinly", None), "export_python": ("koinly", False), "export_xlsx": ("xlsx", None)}
MODES = ("copy_same_select", "copy_raw_columns", *EXPORT_MODES)


def measure(rows: int, mode: str) -> dict:
    """One measurement; run each in a fresh process so no other measurement's memory is in its figures."""
    conn = bench_connection(rows)
    if mode.startswith("copy_"):
        return copy_measured(conn, same_select=mode == "copy_same_select")
    export_format, use_copy = EXPORT_MODES[mode]
    return export_measured(conn, rows, export_format=export_format, use_copy=use_copy)
