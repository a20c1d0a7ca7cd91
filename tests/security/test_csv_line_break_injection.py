"""A line break inside an exchange-supplied cell must not let a formula lead a row or a line of any export.

A bare carriage return was written unquoted by the Python CSV writer (its row terminator is "\n"), so a
spreadsheet started a new row there whose first cell was the attacker's formula."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest

from connectors.models import ExchangeConnection
from exports.models import ExportJob, HistoryEntry
from exports.services.jobs import export_run
from exports.services.writers import export_path

BREAKS = {"cr": "\r", "lf": "\n", "crlf": "\r\n"}
TRIGGERS = "=+-@\t"


@pytest.fixture(autouse=True)
def exports_dir(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"


@pytest.fixture
def broken_lines(portal):
    connection = ExchangeConnection.objects.create(tenant=portal["tenant"], user=portal["user"], exchange="kucoin")
    entries = []
    for number, (name, brk) in enumerate(BREAKS.items(), start=1):
        common = {
            "tenant": portal["tenant"],
            "connection": connection,
            "user": portal["user"],
            "exchange": "kucoin",
            "occurred_at": datetime(2024, 5, number, tzinfo=UTC),
            "status": "SUCCESS",
        }
        entries += [
            HistoryEntry(
                **common,
                kind="withdrawal",
                external_id=f'{name}{brk}=HYPERLINK("http://evil.example")',
                currency=f"BTC{brk}+1",
                amount=Decimal("1"),
                fee=Decimal("0.1"),
                fee_currency=f"BTC{brk}@SUM(A1)",
                address=f"addr{brk}-2+3+cmd|' /C calc'!A0",
                txid=f"tx{brk}\t=cmd",
            ),
            HistoryEntry(
                **common,
                kind="deposit",
                external_id=f"{name}-dep{brk}{brk}=1+1",
                currency="ETH",
                amount=Decimal("2"),
                fee_currency="ETH",
                address=f"{brk}=2+2",
            ),
        ]
    HistoryEntry.objects.bulk_create(entries)
    return connection


def export(portal, export_format, use_copy):
    job = ExportJob.objects.create(
        tenant=portal["tenant"],
        scope="tenant",
        format=export_format,
        kinds=["trade", "deposit", "withdrawal", "ledger"],
        date_from=date(2024, 4, 1),
        date_to=date(2024, 6, 1),
        requested_by=portal["user"],
    )
    job = export_run(job=job, use_copy=use_copy)
    assert job.status == ExportJob.Status.DONE, job.error
    return export_path(job).read_bytes()


def lines_of(cells):
    return [line for cell in cells for line in cell.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def no_line_leads_with_a_formula(cells):
    leading = [
        line for line in lines_of(cells) if line and line[0] in TRIGGERS and not line[1:].replace(".", "").isdigit()
    ]
    assert not leading, leading


def naive_rows(data: bytes) -> list[list[str]]:
    """How a reader that ends a row at any CR or LF (as spreadsheets do with an unquoted one) sees the file."""
    text = data.decode()
    rows, row, cell, quoted, i = [], [], "", False, 0
    while i < len(text):
        char = text[i]
        if quoted:
            if char == '"' and text[i + 1 : i + 2] == '"':
                cell, i = cell + '"', i + 1
            elif char == '"':
                quoted = False
            else:
                cell += char
        elif char == '"':
            quoted = True
        elif char == ",":
            row, cell = row + [cell], ""
        elif char in "\r\n":
            rows.append(row + [cell])
            row, cell = [], ""
            if char == "\r" and text[i + 1 : i + 2] == "\n":
                i += 1
        else:
            cell += char
        i += 1
    return rows + ([row + [cell]] if row or cell else [])


@pytest.mark.parametrize("export_format", ["koinly", "cointracker", "csv"])
def test_line_breaks_in_cells_neither_split_rows_nor_lead_with_a_formula(broken_lines, portal, export_format):
    by_copy, by_python = export(portal, export_format, True), export(portal, export_format, False)
    assert by_copy == by_python
    rows = list(csv.reader(io.StringIO(by_python.decode(), newline="")))
    # Every row ends where the CSV says, for a strict reader and for one that breaks rows at any CR/LF.
    assert naive_rows(by_python) == rows
    assert len({len(row) for row in rows}) == 1
    no_line_leads_with_a_formula([cell for row in rows[1:] for cell in row])


def test_xlsx_cells_with_line_breaks_do_not_lead_a_line_with_a_formula(broken_lines, portal):
    export(portal, "xlsx", False)
    job = ExportJob.objects.latest("created_at")
    sheet = openpyxl.load_workbook(export_path(job)).active
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    no_line_leads_with_a_formula(
        [c.value for row in sheet.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    )
