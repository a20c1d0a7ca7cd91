"""Exports against synced sandbox history: the rows of each format equal the exchange's records for the chosen
scope and range; other tenants' rows never appear; formula cells are neutralised."""

import csv
import hashlib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import openpyxl
import pytest

from broker_portal.models import Membership
from connectors.exchanges import history_source
from connectors.models import ExchangeConnection
from exports.models import ExportJob, HistoryEntry
from exports.services.jobs import export_request, export_run
from exports.services.sync import sync_connection_history
from exports.services.writers import export_path
from sandbox.history import ledger_type
from sandbox.models import HistoryRecord, SandboxUser
from tests.helpers import make_member

pytestmark = pytest.mark.django_db(transaction=True)

# The range reaches from the fixed entries below (2024) into the sandbox's history (the twelve weeks before now) and
# leaves its newest rows out.
DATE_FROM, DATE_TO = date(2024, 3, 1), date.today() - timedelta(days=20)
NAMES = {"kucoin": "KuCoin", "kraken": "Kraken"}


@pytest.fixture
def run_inline(tasks_run_inline):
    """The export task runs where it is enqueued (the worker itself is exercised by the browser test)."""


@pytest.fixture
def synced(connect, portal):
    connections = {exchange_id: connect(exchange_id) for exchange_id in ("kucoin", "kraken")}
    for connection in connections.values():
        sync_connection_history(connection=connection)
    return connections


def entry_rows(**fields):
    """A few entries inside the range for a connection that belongs to someone else."""
    return [
        HistoryEntry(
            **fields,
            exchange="kucoin",
            kind="deposit",
            external_id=f"foreign-{n}",
            occurred_at=datetime(2024, 6, 1 + n, tzinfo=UTC),
            currency="BTC",
            amount=Decimal("1.25"),
            fee_currency="BTC",
            status="SUCCESS",
        )
        for n in range(3)
    ]


@pytest.fixture
def strangers(portal):
    """Another user of the same tenant and a user of another tenant, each with history inside the range."""
    from broker_portal import services as portal_services

    colleague = make_member(portal["tenant"], "colleague@live.example")
    other_tenant = portal_services.tenant_create(name="Other Broker", slug="other", hosts=["other.localhost"])
    outsider = make_member(other_tenant, "outsider@other.example")
    made = {}
    for name, tenant, user in (("colleague", portal["tenant"], colleague), ("outsider", other_tenant, outsider)):
        connection = ExchangeConnection.objects.create(tenant=tenant, user=user, exchange="kucoin")
        HistoryEntry.objects.bulk_create(entry_rows(tenant=tenant, connection=connection, user=user))
        made[name] = connection
    return made


def sandbox_records(exchange_id, kinds):
    user = SandboxUser.objects.get(exchange=exchange_id, email=f"trader@{exchange_id}.sandbox")
    start = datetime.combine(DATE_FROM, time.min, tzinfo=UTC)
    end = datetime.combine(DATE_TO + timedelta(days=1), time.min, tzinfo=UTC)
    return list(HistoryRecord.objects.filter(user=user, kind__in=kinds, time__gte=start, time__lt=end))


def plain(value) -> str:
    if value is None:
        return ""
    value = Decimal(value)
    return "0" if value == 0 else format(value.normalize(), "f")


def flows(record):
    if record.kind == "trade":
        quote = record.price * record.amount
        base_currency, quote_currency = record.pair.split("-")
        if record.side == "sell":
            return plain(record.amount), base_currency, plain(quote), quote_currency
        return plain(quote), quote_currency, plain(record.amount), base_currency
    if record.kind == "withdrawal" or (record.kind == "ledger" and record.amount < 0):
        return plain(abs(record.amount)), record.currency, "", ""
    return "", "", plain(record.amount), record.currency


def external_id(exchange_id, record):
    """KuCoin's HF (TRADE_HF) ledger names its entries by a number, which pages by lastId: the sandbox's row id."""
    if (exchange_id, record.kind) == ("kucoin", "ledger") and record.details.get("hf"):
        return str(record.pk)
    return record.txid


def txhash(exchange_id, record):
    return (
        record.txid
        if record.kind in ("deposit", "withdrawal") or (exchange_id, record.kind) == ("kraken", "ledger")
        else ""
    )


def fees(record):
    return (
        [plain(record.fee), record.currency if record.kind != "trade" else record.fee_currency]
        if record.fee
        else ["", ""]
    )


def koinly(exchange_id, record):
    sent, sent_currency, received, received_currency = flows(record)
    label = "cost" if record.kind == "ledger" and record.entry_type == "fee" else ""
    description = " ".join(
        p
        for p in [
            NAMES[exchange_id],
            record.kind,
            ledger_type(exchange_id, record) if record.kind == "ledger" else "",
            external_id(exchange_id, record),
        ]
        if p
    )
    return [
        record.time.strftime("%Y-%m-%d %H:%M:%S UTC"),
        sent,
        sent_currency,
        received,
        received_currency,
        *fees(record),
        "",
        "",
        label,
        description,
        txhash(exchange_id, record),
    ]


def cointracker(exchange_id, record):
    sent, sent_currency, received, received_currency = flows(record)
    return [
        record.time.strftime("%m/%d/%Y %H:%M:%S"),
        received,
        received_currency,
        sent,
        sent_currency,
        *fees(record),
        "",
    ]


def native(exchange_id, record, connection_id):
    trade, ledger = record.kind == "trade", record.kind == "ledger"
    status = {"kucoin": "SUCCESS", "kraken": "Success"}[exchange_id] if record.kind in ("deposit", "withdrawal") else ""
    return [
        exchange_id,
        str(connection_id),
        record.kind,
        external_id(exchange_id, record),
        record.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        ledger_type(exchange_id, record) if ledger else "",
        record.side if trade else "",
        record.pair.split("-")[0] if trade else record.currency,
        plain(record.amount),
        record.pair.split("-")[1] if trade else "",
        plain(record.price * record.amount) if trade else "",
        plain(record.price) if trade else "",
        plain(record.fee),
        record.fee_currency if trade else record.currency,
        plain(record.balance_after) if ledger else "",
        record.address if record.kind in ("deposit", "withdrawal") else "",
        txhash(exchange_id, record),
        status,
    ]


EXPECTED = {"koinly": koinly, "cointracker": cointracker}


def read_rows(job):
    path = export_path(job)
    if job.format == "xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).active
        return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def request_export(portal, user, role, **fields):
    membership = Membership.objects.get(tenant=portal["tenant"], user=user)
    membership.role = role
    defaults = {"kinds": ["trade", "deposit", "withdrawal", "ledger"], "date_from": DATE_FROM, "date_to": DATE_TO}
    job = export_request(tenant=portal["tenant"], user=user, membership=membership, **{**defaults, **fields})
    job.refresh_from_db()
    assert job.status == "done", job.error
    return job


@pytest.mark.parametrize("export_format", ["koinly", "cointracker", "csv", "xlsx"])
@pytest.mark.parametrize("scope", ["connection", "user", "tenant"])
def test_export_rows_equal_the_sandbox_history_for_scope_and_range(
    synced, strangers, portal, run_inline, scope, export_format
):
    kucoin, kraken = synced["kucoin"], synced["kraken"]
    target = {"connection": {"scope_connection": kucoin}, "user": {"scope_user": portal["user"]}, "tenant": {}}[scope]
    job = request_export(
        portal, portal["user"], Membership.Role.ACCOUNTANT, scope=scope, export_format=export_format, **target
    )
    rows = read_rows(job)
    header, body = rows[0], rows[1:]

    exchanges = [("kucoin", kucoin)] + ([("kraken", kraken)] if scope != "connection" else [])
    kinds = ["trade", "deposit", "withdrawal", "ledger"]
    records = [
        (exchange_id, connection, r)
        for exchange_id, connection in exchanges
        for r in sandbox_records(exchange_id, kinds)
    ]
    if export_format in EXPECTED:  # tax formats leave out ledger rows that repeat another row (exports/MAPPING.md)
        records = [
            (exchange_id, connection, r)
            for exchange_id, connection, r in records
            if not (r.kind == "ledger" and ledger_type(exchange_id, r) in history_source(exchange_id).ledger_repeats)
        ]
    assert records and len(body) == len(records) + (3 if scope == "tenant" else 0)  # + the colleague's rows
    assert job.rows_written == len(body) and sum(job.row_counts.values()) == len(body)
    if export_format in EXPECTED:
        expected = [EXPECTED[export_format](exchange_id, r) for exchange_id, _, r in records]
    else:
        expected = [native(exchange_id, r, connection.pk) for exchange_id, connection, r in records]
    if scope == "tenant":  # the colleague's deposits are in; the other tenant's never
        colleague = [
            row
            for row in body
            if ("1.25" in row or 1.25 in row) and any(str(cell).startswith(("2024-06-0", "06/0")) for cell in row)
        ]
        assert len(colleague) == 3
        body = [row for row in body if row not in colleague]
    if export_format == "xlsx":
        assert header[:5] == ["Exchange", "Connection", "Kind", "External ID", "Time (UTC)"]
        body = [[cell_text(cell) for cell in row] for row in body]
        expected = [[cell_text(cell) for cell in row] for row in expected]
    assert sorted(body) == sorted(expected)
    assert "outsider" not in open(export_path(job), "rb").read().decode("utf-8", "replace")
    assert job.sha256 == hashlib.sha256(export_path(job).read_bytes()).hexdigest()


def cell_text(cell) -> str:
    """XLSX keeps numbers as doubles and times as datetimes; compare them at that precision."""
    if isinstance(cell, datetime):
        return cell.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(cell, (int, float)):
        return f"{float(cell):.10g}"
    text = str(cell)
    if text.endswith("Z") and "T" in text:
        return text[:19]
    try:
        return f"{float(Decimal(text)):.10g}" if text else ""
    except ArithmeticError:
        return text


def test_koinly_header_is_exactly_the_documented_one(synced, portal, run_inline):
    job = request_export(portal, portal["user"], Membership.Role.ACCOUNTANT, scope="tenant", export_format="koinly")
    assert read_rows(job)[0] == [
        "Date",
        "Sent Amount",
        "Sent Currency",
        "Received Amount",
        "Received Currency",
        "Fee Amount",
        "Fee Currency",
        "Net Worth Amount",
        "Net Worth Currency",
        "Label",
        "Description",
        "TxHash",
    ]
    job = request_export(
        portal,
        portal["user"],
        Membership.Role.ACCOUNTANT,
        scope="tenant",
        export_format="cointracker",
        kinds=["deposit"],
    )
    assert read_rows(job)[0] == [
        "Date",
        "Received Quantity",
        "Received Currency",
        "Sent Quantity",
        "Sent Currency",
        "Fee Amount",
        "Fee Currency",
        "Tag",
    ]
    assert set(job.row_counts) == {"deposit"}


@pytest.fixture
def hostile(portal):
    """Entries whose exchange-supplied text would run as a spreadsheet formula."""
    connection = ExchangeConnection.objects.create(tenant=portal["tenant"], user=portal["user"], exchange="kucoin")
    common = {
        "tenant": portal["tenant"],
        "connection": connection,
        "user": portal["user"],
        "exchange": "kucoin",
        "occurred_at": datetime(2024, 5, 1, tzinfo=UTC),
    }
    HistoryEntry.objects.bulk_create(
        [
            HistoryEntry(
                **common,
                kind="withdrawal",
                external_id='=HYPERLINK("http://evil.example","x")',
                currency="+BTC",
                amount=Decimal("1"),
                fee=Decimal("0.1"),
                fee_currency="@SUM(A1)",
                address="-2+3+cmd|' /C calc'!A0",
                txid="@evil",
                status="SUCCESS",
            ),
            HistoryEntry(
                **common,
                kind="ledger",
                external_id="plain-1",
                entry_type="=1+1",
                currency="BTC",
                amount=Decimal("-1.5"),
                fee_currency="BTC",
                txid="\t=cmd",
            ),
        ]
    )
    return connection


@pytest.mark.parametrize("export_format", ["koinly", "cointracker", "csv", "xlsx"])
def test_formula_cells_are_neutralised_and_plain_numbers_kept(hostile, portal, run_inline, export_format):
    job = request_export(
        portal,
        portal["user"],
        Membership.Role.MEMBER,
        scope="connection",
        scope_connection=hostile,
        export_format=export_format,
    )
    cells = [cell for row in read_rows(job)[1:] for cell in row if isinstance(cell, str) and cell]
    assert not [
        cell for cell in cells if cell[0] in "=+@\t" or (cell[0] == "-" and not cell[1:].replace(".", "").isdigit())
    ]
    joined = "\n".join(cells)
    assert "'+BTC" in joined and "'@SUM(A1)" in joined
    if export_format in ("csv", "xlsx"):
        assert "'=HYPERLINK(" in joined and "'-2+3+cmd" in joined and "'=1+1" in joined and "'\t=cmd" in joined
    if export_format == "csv":
        assert "-1.5" in cells  # a negative ledger amount stays a number
    if export_format == "xlsx":
        workbook = openpyxl.load_workbook(export_path(job))
        assert not [c for row in workbook.active.iter_rows() for c in row if c.data_type == "f"]


@pytest.fixture
def awkward(hostile, portal):
    """Cells that test the CSV writers' edges: quotes, commas, newlines, zeros, long decimals, sub-second times;
    and a failed withdrawal, which only the audit format lists."""
    common = {"tenant": portal["tenant"], "connection": hostile, "user": portal["user"], "exchange": "kucoin"}
    HistoryEntry.objects.bulk_create(
        [
            HistoryEntry(
                **common,
                kind="trade",
                external_id='t"1,2',
                side="sell",
                currency="BTC",
                amount=Decimal("2"),
                quote_currency="USDT",
                quote_amount=Decimal("130000.123456789012345678"),
                price=Decimal("65000.0617283945"),
                fee=Decimal("0"),
                fee_currency="USDT",
                occurred_at=datetime(2024, 7, 1, 12, 30, 5, 123456, tzinfo=UTC),
            ),
            HistoryEntry(
                **common,
                kind="deposit",
                external_id="line\nbreak",
                currency="ETH",
                amount=Decimal("100"),
                fee=Decimal("0.000000000000000001"),
                fee_currency="ETH",
                address=" spaced ",
                status="SUCCESS",
                occurred_at=datetime(2024, 7, 2, tzinfo=UTC),
            ),
            HistoryEntry(
                **common,
                kind="ledger",
                external_id="zero",
                entry_type="fee",
                currency="SOL",
                amount=Decimal("0"),
                balance=Decimal("0"),
                occurred_at=datetime(2024, 7, 3, 23, 59, 59, 999999, tzinfo=UTC),
            ),
            HistoryEntry(
                **common,
                kind="withdrawal",
                external_id="failed",
                currency="ETH",
                amount=Decimal("0.333"),
                status="FAILURE",
                occurred_at=datetime(2024, 7, 4, tzinfo=UTC),
            ),
        ]
    )
    return hostile


def export_both_ways(portal, export_format: str) -> tuple[list, bytes, bytes]:
    """The same tenant-wide export written by COPY and by Python: both jobs and both files' bytes."""
    made = []
    for use_copy in (True, False):
        job = ExportJob.objects.create(
            tenant=portal["tenant"],
            scope="tenant",
            format=export_format,
            kinds=["trade", "deposit", "withdrawal", "ledger"],
            date_from=DATE_FROM,
            date_to=DATE_TO,
            requested_by=portal["user"],
        )
        made.append(export_run(job=job, use_copy=use_copy))
    by_copy, by_python = (export_path(job).read_bytes() for job in made)
    return made, by_copy, by_python


@pytest.mark.parametrize("export_format", ["koinly", "cointracker", "csv"])
def test_copy_and_python_writers_give_the_same_bytes(awkward, synced, portal, export_format):
    made, by_copy, by_python = export_both_ways(portal, export_format)
    assert by_copy == by_python and by_copy.count(b"\n") > 20
    assert (b"0.333" in by_copy) == (export_format == "csv")  # a failed withdrawal: audit format only
    assert made[0].sha256 == made[1].sha256 and made[0].row_counts == made[1].row_counts


# exchange, kind, status as the exchange spells it, whether the money moved
MOVEMENTS = [
    ("kucoin", "withdrawal", "SUCCESS", True),
    ("kucoin", "withdrawal", "FAILURE", False),
    ("kucoin", "deposit", "PROCESSING", False),
    ("kucoin", "deposit", "", False),
    ("kraken", "deposit", "Success", True),
    ("kraken", "withdrawal", "Failure", False),
    ("kraken", "withdrawal", "Canceled", False),
    ("kraken", "withdrawal", "Pending", False),
    ("okx", "deposit", "2", True),
    ("okx", "deposit", "1", False),
    ("okx", "withdrawal", "-2", False),
    ("okx", "withdrawal", "-1", False),
    ("okx", "withdrawal", "2", True),
    # Peatio's 2017 deposit states (app/models/deposit.rb); it has no withdrawals endpoint.
    ("peatio", "deposit", "accepted", True),
    ("peatio", "deposit", "rejected", False),
    ("peatio", "deposit", "checked", True),
    ("peatio", "deposit", "cancelled", False),
]


@pytest.fixture
def movements(portal):
    """Deposits and withdrawals of each exchange in completed, failed, cancelled and unfinished statuses, with a
    trade and a ledger entry (no status) beside them. The amount is the row's number, so every row is told apart."""
    rows = []
    for number, (exchange_id, kind, status, _) in enumerate(MOVEMENTS, start=1):
        connection, _ = ExchangeConnection.objects.get_or_create(
            tenant=portal["tenant"], user=portal["user"], exchange=exchange_id
        )
        rows.append(
            HistoryEntry(
                tenant=portal["tenant"],
                connection=connection,
                user=portal["user"],
                exchange=exchange_id,
                kind=kind,
                external_id=f"m{number}",
                status=status,
                occurred_at=datetime(2024, 8, number, tzinfo=UTC),
                currency="BTC",
                amount=Decimal(number),
                fee_currency="BTC",
            )
        )
    common = {
        "tenant": portal["tenant"],
        "connection": connection,
        "user": portal["user"],
        "exchange": "peatio",
        "occurred_at": datetime(2024, 9, 1, tzinfo=UTC),
    }
    rows += [
        HistoryEntry(
            **common,
            kind="trade",
            external_id="m100",
            side="buy",
            currency="BTC",
            amount=Decimal(100),
            quote_currency="USDT",
            quote_amount=Decimal(6000000),
            price=Decimal(60000),
        ),
        HistoryEntry(**common, kind="ledger", external_id="m101", currency="BTC", amount=Decimal(-101)),
    ]
    HistoryEntry.objects.bulk_create(rows)


@pytest.mark.parametrize("export_format", ["koinly", "cointracker", "csv"])
def test_tax_formats_leave_out_movements_that_did_not_complete_on_both_paths(movements, portal, export_format):
    made, by_copy, by_python = export_both_ways(portal, export_format)
    assert by_copy == by_python and made[0].row_counts == made[1].row_counts

    completed = {number for number, (*_, moved) in enumerate(MOVEMENTS, start=1) if moved}
    body = read_rows(made[0])[1:]
    if export_format == "csv":  # the audit format keeps every row, each with its status
        listed = {(f"m{n}", status) for n, (_, _, status, _) in enumerate(MOVEMENTS, start=1)}
        assert {(row[3], row[17]) for row in body} == listed | {("m100", ""), ("m101", "")}
        return
    amount_columns = (1, 3)  # sent and received (Koinly), received and sent (CoinTracker)
    amounts = {int(Decimal(row[column])) for row in body for column in amount_columns if row[column]}
    assert amounts == completed | {100, 6000000, 101}
    assert made[0].row_counts == {
        "trade": 1,
        "ledger": 1,
        "deposit": sum(1 for n in completed if MOVEMENTS[n - 1][1] == "deposit"),
        "withdrawal": sum(1 for n in completed if MOVEMENTS[n - 1][1] == "withdrawal"),
    }


def test_xlsx_has_a_bold_frozen_header_widths_and_every_digit_of_each_amount(awkward, portal):
    import zipfile

    job = ExportJob.objects.create(
        tenant=portal["tenant"],
        scope="tenant",
        format="xlsx",
        kinds=["trade", "deposit"],
        date_from=DATE_FROM,
        date_to=DATE_TO,
        requested_by=portal["user"],
    )
    path = export_path(export_run(job=job))
    sheet = openpyxl.load_workbook(path).active
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1]) and not any(cell.font.bold for cell in sheet[2])
    widths = {cell.value: sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]}
    assert widths["TxHash"] == 46 and widths["Amount"] == 24 and widths["Kind"] == 10
    amount = next(cell for cell in sheet[1] if cell.value == "Quote Amount").column_letter
    quoted = [row for row in sheet.iter_rows(min_row=2) if row[2].value == "trade"][0]
    assert quoted[sheet[amount + "1"].column - 1].number_format == "#,##0.0#################"
    # The file holds the exchange's decimals as they are: a double would stop at 130000.1234567890.
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>130000.123456789012345678</v>" in xml and "<v>0.000000000000000001</v>" in xml
    assert isinstance(quoted[sheet[amount + "1"].column - 1].value, float)  # and a number to a spreadsheet


def test_an_xlsx_export_longer_than_a_sheet_goes_on_in_further_sheets(awkward, portal, monkeypatch):
    from exports.formats import XlsxWriter, safe_text
    from exports.selectors import history_for_export

    monkeypatch.setattr(XlsxWriter, "max_rows", 3)  # Excel's 1,048,576 rows, scaled down
    job = ExportJob.objects.create(
        tenant=portal["tenant"],
        scope="tenant",
        format="xlsx",
        kinds=["trade", "deposit", "withdrawal", "ledger"],
        date_from=DATE_FROM,
        date_to=DATE_TO,
        requested_by=portal["user"],
    )
    job = export_run(job=job)
    workbook = openpyxl.load_workbook(export_path(job), read_only=True)
    sheets = [list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets]
    assert job.rows_written > 4 and len(sheets) == (job.rows_written + 1) // 2
    assert workbook.sheetnames == ["History", *(f"History {n}" for n in range(2, len(sheets) + 1))]
    assert all(rows[0] == sheets[0][0] and 2 <= len(rows) <= 3 for rows in sheets)
    external_ids = [row[3] for rows in sheets for row in rows[1:]]
    assert external_ids == [safe_text(entry.external_id) for entry in history_for_export(job=job)]


# The documented headers, byte for byte (see exports/formats.py for the sources).
COINLEDGER_HEADER = (
    b"Date (UTC),Platform (Optional),Asset Sent,Amount Sent,Asset Received,Amount Received,"
    b"Fee Currency (Optional),Fee Amount (Optional),Type,Description (Optional),TxHash (Optional)\n"
)
COINTRACKING_HEADER = (
    b'"Type","Buy Amount","Buy Currency","Sell Amount","Sell Currency","Fee","Fee Currency",'
    b'"Exchange","Trade-Group","Comment","Date"\n'
)


@pytest.mark.parametrize(
    "export_format, header", [("coinledger", COINLEDGER_HEADER), ("cointracking", COINTRACKING_HEADER)]
)
def test_coinledger_and_cointracking_files_start_with_their_documented_header_and_hold_completed_movements(
    movements, portal, export_format, header
):
    job = ExportJob.objects.create(
        tenant=portal["tenant"],
        scope="tenant",
        format=export_format,
        kinds=["trade", "deposit", "withdrawal", "ledger"],
        date_from=DATE_FROM,
        date_to=DATE_TO,
        requested_by=portal["user"],
    )
    body = export_path(export_run(job=job)).read_bytes()
    assert body.startswith(header)
    lines = body.decode().splitlines()[1:]
    completed = [number for number, (*_, moved) in enumerate(MOVEMENTS, start=1) if moved]
    assert len(lines) == len(completed) + 2  # and the trade and the ledger entry
    if export_format == "coinledger":
        # OKX's completed deposit (row 9, 2024-08-09): received, dated mm/dd/yyyy, no fee cells, no "0".
        assert "08/09/2024 00:00:00,OKX,,,BTC,9,,,Deposit,OKX deposit m9," in lines
        assert "09/01/2024 00:00:00,Peatio,USDT,6000000,BTC,100,,,Trade,Peatio trade m100," in lines
        assert "09/01/2024 00:00:00,Peatio,BTC,101,,,,,Withdrawal,Peatio ledger m101," in lines
    else:
        assert '"Withdrawal","","","1","BTC","","","KuCoin","","KuCoin withdrawal m1","01.08.2024 00:00:00"' in lines
        assert (
            '"Trade","100","BTC","6000000","USDT","","","Peatio","","Peatio trade m100","01.09.2024 00:00:00"' in lines
        )
