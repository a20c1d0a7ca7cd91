"""Writing an export's file: straight from PostgreSQL's COPY for the CSV formats, row by row otherwise; where the
files live."""

import csv
import hashlib
import io
import itertools
import time
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Count
from django.db.models.expressions import RawSQL

from ..formats import FIELDS, open_writer
from ..models import ExportJob

PROGRESS_EVERY_ROWS = 5000
PROGRESS_EVERY_SECONDS = 0.5
CHUNK_SIZE = 5000


def exports_dir() -> Path:
    directory = Path(settings.EXPORTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def export_path(job: ExportJob) -> Path:
    return exports_dir() / job.file_name


def write_with_python(*, job, export_format, entries, path) -> tuple[dict[str, int], str, int]:
    ExportJob.objects.filter(pk=job.pk).update(rows_total=entries.count())
    counts = dict.fromkeys(job.kinds, 0)
    written = 0
    writer = open_writer(export_format, path)
    try:
        for entry in entries.values_list(*FIELDS, named=True).iterator(chunk_size=CHUNK_SIZE):
            writer.write(export_format.row(entry))
            counts[entry.kind] += 1
            written += 1
            if written % PROGRESS_EVERY_ROWS == 0:
                ExportJob.objects.filter(pk=job.pk).update(rows_written=written)
    finally:
        writer.close()
    return counts, *file_digest(path)


def copy_statement(*, entries, export_format) -> tuple[str, tuple]:
    """``COPY (SELECT <the format's columns as SQL> FROM <the entries' query>) TO STDOUT`` and its parameters."""
    names = [f"c{index}" for index in range(len(export_format.sql_columns))]
    rows = entries.annotate(
        **{name: RawSQL(expression, ()) for name, expression in zip(names, export_format.sql_columns, strict=True)}
    ).values_list(*names)
    sql, params = rows.query.sql_with_params()
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params


def write_with_copy(*, job, export_format, entries, path) -> tuple[dict[str, int], str, int]:
    """Counts and rows from one REPEATABLE READ snapshot on a connection of its own, so the manifest matches
    the file and progress (written through the default connection) is visible while COPY runs. Inside an
    outer transaction (tests) that transaction's connection is used, without progress until the end."""
    own = not connection.in_atomic_block
    reader = connections.create_connection(DEFAULT_DB_ALIAS) if own else connection
    try:
        if own:
            reader.set_autocommit(False)
        with reader.cursor() as cursor:
            if own:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            count_sql, count_params = (
                entries.order_by()
                .values("kind")
                .annotate(rows=Count("id"))
                .values_list("kind", "rows")
                .query.sql_with_params()
            )
            cursor.execute(count_sql, count_params)
            counts = dict.fromkeys(job.kinds, 0) | dict(cursor.fetchall())
            total = sum(counts.values())
            ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
            sql, params = copy_statement(entries=entries, export_format=export_format)
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(export_format.columns)
            digest, size = hashlib.sha256(), 0
            with open(path, "wb") as file:
                lines, reported = 0, time.monotonic()
                with cursor.cursor.copy(sql, params) as copy:
                    for block in itertools.chain([header.getvalue().encode()], copy):
                        file.write(block)
                        digest.update(block)
                        size += len(block)
                        lines += 1  # COPY hands over one row per block
                        if (
                            own
                            and lines % PROGRESS_EVERY_ROWS == 0
                            and time.monotonic() - reported > PROGRESS_EVERY_SECONDS
                        ):
                            # Blocks, not rows: a quoted cell may hold a newline; the final count is exact.
                            ExportJob.objects.filter(pk=job.pk).update(rows_written=min(lines, total))
                            reported = time.monotonic()
        return counts, digest.hexdigest(), size
    finally:
        if own:
            reader.rollback()
            reader.close()


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
