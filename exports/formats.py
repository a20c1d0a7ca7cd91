"""Export formats: the columns and how one history entry becomes rows, and writers that stream them to a file.

Every text cell passes through ``safe_text``: a spreadsheet would run a cell that starts with ``=``, ``+``, ``-``
or ``@`` (or a tab or carriage return) as a formula, so such cells get a leading apostrophe. Plain numbers
("-1.5") are left alone; they are what an accountant's tool expects. A line break inside a cell gets the same
treatment for the line it starts (a reader that splits rows or cells at line breaks would see it lead), and the
CSV writers quote every cell that holds a CR or LF, so no line break ends a row early (OWASP "CSV Injection").
"""

import csv
import re
from dataclasses import dataclass
from decimal import Decimal

from connectors.exchanges import EXCHANGES

from .models import ExportFormat, HistoryKind

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
LINE_LEADING_TRIGGER = re.compile(r"([\r\n])([-=+@\t])")

# What the writers read from each entry (values_list(..., named=True)).
FIELDS = (
    "exchange",
    "connection_id",
    "user_id",
    "kind",
    "external_id",
    "occurred_at",
    "entry_type",
    "side",
    "currency",
    "amount",
    "quote_currency",
    "quote_amount",
    "price",
    "fee",
    "fee_currency",
    "balance",
    "address",
    "txid",
    "status",
)


def safe_text(value) -> str:
    text = "" if value is None else str(value)
    if "\r" in text or "\n" in text:
        text = LINE_LEADING_TRIGGER.sub(r"\1'\2", text)
    if text.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def number(value: Decimal | None) -> str:
    """Plain notation without trailing zeros, as exchanges print amounts."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def flows(entry) -> tuple[Decimal | None, str, Decimal | None, str]:
    """(sent amount, sent currency, received amount, received currency) of one entry."""
    if entry.kind == HistoryKind.TRADE:
        if entry.side == "sell":
            return entry.amount, entry.currency, entry.quote_amount, entry.quote_currency
        return entry.quote_amount, entry.quote_currency, entry.amount, entry.currency
    if entry.kind == HistoryKind.DEPOSIT:
        return None, "", entry.amount, entry.currency
    if entry.kind == HistoryKind.WITHDRAWAL:
        return entry.amount, entry.currency, None, ""
    if entry.amount < 0:
        return -entry.amount, entry.currency, None, ""
    return None, "", entry.amount, entry.currency


def description(entry) -> str:
    parts = [exchange_name(entry.exchange), entry.kind, entry.entry_type, entry.external_id]
    return " ".join(part for part in parts if part)


def fee_cells(entry) -> list[str]:
    return [number(entry.fee), safe_text(entry.fee_currency)] if entry.fee else ["", ""]


def koinly_row(entry) -> list[str]:
    sent, sent_currency, received, received_currency = flows(entry)
    label = "cost" if entry.kind == HistoryKind.LEDGER and entry.entry_type == "fee" else ""
    return [
        entry.occurred_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        number(sent),
        safe_text(sent_currency),
        number(received),
        safe_text(received_currency),
        *fee_cells(entry),
        "",
        "",
        label,
        safe_text(description(entry)),
        safe_text(entry.txid),
    ]


def cointracker_row(entry) -> list[str]:
    sent, sent_currency, received, received_currency = flows(entry)
    return [
        entry.occurred_at.strftime("%m/%d/%Y %H:%M:%S"),
        number(received),
        safe_text(received_currency),
        number(sent),
        safe_text(sent_currency),
        *fee_cells(entry),
        "",
    ]


def movement_type(entry, *, fee: str) -> str:
    """Trade, Deposit or Withdrawal by what moved; a ledger row by its sign, a fee as ``fee``."""
    if entry.kind == HistoryKind.TRADE:
        return "Trade"
    if entry.kind == HistoryKind.LEDGER and entry.entry_type == "fee":
        return fee
    sent, _, received, _ = flows(entry)
    return "Deposit" if received is not None else "Withdrawal"


# CoinLedger's Universal Manual Import Template (help.coinledger.io/en/articles/6028758, "keep the column headers
# exactly as you see them, without deleting any optional columns"); the header with its "(Optional)" suffixes as
# the template sheet has it, which public integrations report importing (pwillworth/dfkreport, and a converter
# whose header test records a successful import); dates mm/dd/yyyy hh:mm:ss in UTC, empty cells rather than 0.
COINLEDGER_COLUMNS = [
    "Date (UTC)",
    "Platform (Optional)",
    "Asset Sent",
    "Amount Sent",
    "Asset Received",
    "Amount Received",
    "Fee Currency (Optional)",
    "Fee Amount (Optional)",
    "Type",
    "Description (Optional)",
    "TxHash (Optional)",
]


def coinledger_row(entry) -> list[str]:
    sent, sent_currency, received, received_currency = flows(entry)
    fee_amount, fee_currency = fee_cells(entry)
    return [
        entry.occurred_at.strftime("%m/%d/%Y %H:%M:%S"),
        safe_text(exchange_name(entry.exchange)),
        safe_text(sent_currency),
        number(sent),
        safe_text(received_currency),
        number(received),
        fee_currency,
        fee_amount,
        movement_type(entry, fee="Withdrawal"),
        safe_text(description(entry)),
        safe_text(entry.txid),
    ]


# CoinTracking's CSV import (cointracking.info/import/import_csv/): its eleven required columns, every cell quoted,
# as public integrations write it; dates DD.MM.YYYY HH:MM:SS (UTC here); "Other Fee" for a fee on its own.
COINTRACKING_COLUMNS = [
    "Type",
    "Buy Amount",
    "Buy Currency",
    "Sell Amount",
    "Sell Currency",
    "Fee",
    "Fee Currency",
    "Exchange",
    "Trade-Group",
    "Comment",
    "Date",
]


def cointracking_row(entry) -> list[str]:
    sent, sent_currency, received, received_currency = flows(entry)
    fee_amount, fee_currency = fee_cells(entry)
    return [
        movement_type(entry, fee="Other Fee"),
        number(received),
        safe_text(received_currency),
        number(sent),
        safe_text(sent_currency),
        fee_amount,
        fee_currency,
        safe_text(exchange_name(entry.exchange)),
        "",
        safe_text(description(entry)),
        entry.occurred_at.strftime("%d.%m.%Y %H:%M:%S"),
    ]


NATIVE_COLUMNS = [
    "Exchange",
    "Connection",
    "Kind",
    "External ID",
    "Time (UTC)",
    "Type",
    "Side",
    "Currency",
    "Amount",
    "Quote Currency",
    "Quote Amount",
    "Price",
    "Fee",
    "Fee Currency",
    "Balance",
    "Address",
    "TxHash",
    "Status",
]


def native_cells(entry) -> list:
    """Native columns with amounts as Decimals (the CSV prints them, the XLSX stores them as numbers)."""
    return [
        entry.exchange,
        entry.connection_id,
        entry.kind,
        safe_text(entry.external_id),
        entry.occurred_at,
        safe_text(entry.entry_type),
        safe_text(entry.side),
        safe_text(entry.currency),
        entry.amount,
        safe_text(entry.quote_currency),
        entry.quote_amount,
        entry.price,
        entry.fee,
        safe_text(entry.fee_currency),
        entry.balance,
        safe_text(entry.address),
        safe_text(entry.txid),
        safe_text(entry.status),
    ]


def native_row(entry) -> list[str]:
    cells = native_cells(entry)
    cells[4] = entry.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [number(cell) if isinstance(cell, Decimal) else ("" if cell is None else str(cell)) for cell in cells]


# The same columns as SQL over exports_historyentry, for PostgreSQL's COPY (see services.writers.write_with_copy). Empty
# strings become NULL because COPY quotes an empty string ("") where Python's csv writes nothing.
def sql_lines_safe(expression: str) -> str:
    """safe_text's rule for a line inside a cell, in SQL (the regular expression runs only where a line breaks)."""
    return (
        f"CASE WHEN strpos({expression}, E'\\n') > 0 OR strpos({expression}, E'\\r') > 0 "
        f"THEN regexp_replace({expression}, E'([\\r\\n])([-=+@\\t])', E'\\\\1''\\\\2', 'g') "
        f"ELSE {expression} END"
    )


def sql_safe(expression: str) -> str:
    expression = sql_lines_safe(expression)
    # left() first: the regular expression runs only for the rare cell that starts with "-".
    return (
        f"CASE WHEN left({expression}, 1) IN ('=', '+', '@', E'\\t', E'\\r') OR (left({expression}, 1) = '-' "
        f"AND {expression} !~ '^-[0-9]+(\\.[0-9]+)?$') THEN '''' || {expression} ELSE NULLIF({expression}, '') END"
    )


def sql_number(expression: str) -> str:
    return f"trim_scale({expression})::text"


SQL_SENT_AMOUNT = (
    "CASE WHEN kind = 'trade' THEN (CASE WHEN side = 'sell' THEN amount ELSE quote_amount END) "
    "WHEN kind = 'withdrawal' THEN amount WHEN kind = 'ledger' AND amount < 0 THEN -amount END"
)
SQL_SENT_CURRENCY = (
    "CASE WHEN kind = 'trade' THEN (CASE WHEN side = 'sell' THEN currency ELSE quote_currency END) "
    "WHEN kind = 'withdrawal' OR (kind = 'ledger' AND amount < 0) THEN currency END"
)
SQL_RECEIVED_AMOUNT = (
    "CASE WHEN kind = 'trade' THEN (CASE WHEN side = 'sell' THEN quote_amount ELSE amount END) "
    "WHEN kind = 'deposit' OR (kind = 'ledger' AND amount >= 0) THEN amount END"
)
SQL_RECEIVED_CURRENCY = (
    "CASE WHEN kind = 'trade' THEN (CASE WHEN side = 'sell' THEN quote_currency ELSE currency "
    "END) WHEN kind = 'deposit' OR (kind = 'ledger' AND amount >= 0) THEN currency END"
)
SQL_FEE = [
    f"CASE WHEN fee <> 0 THEN {sql_number('fee')} END",
    f"CASE WHEN fee <> 0 THEN {sql_safe('fee_currency')} END",
]
SQL_UTC = "(occurred_at AT TIME ZONE 'UTC')"


def exchange_name(exchange_id: str) -> str:
    exchange = EXCHANGES.get(exchange_id)
    return exchange.export_name if exchange else exchange_id


def sql_exchange_name() -> str:
    """The exchange's name for exports, in SQL: the exchange packages' names, as the Python writer has them."""
    return (
        "CASE exchange "
        + " ".join(f"WHEN '{key}' THEN '{exchange_name(key)}'" for key in EXCHANGES)
        + " ELSE exchange END"
    )


def koinly_sql() -> list[str]:
    return [
        f"to_char({SQL_UTC}, 'YYYY-MM-DD HH24:MI:SS') || ' UTC'",
        sql_number(SQL_SENT_AMOUNT),
        sql_safe(SQL_SENT_CURRENCY),
        sql_number(SQL_RECEIVED_AMOUNT),
        sql_safe(SQL_RECEIVED_CURRENCY),
        *SQL_FEE,
        "NULL",
        "NULL",
        "CASE WHEN kind = 'ledger' AND entry_type = 'fee' THEN 'cost' END",
        # Starts with the portal's own name for the exchange, so no formula can lead it.
        sql_lines_safe(
            f"concat_ws(' ', NULLIF({sql_exchange_name()}, ''), NULLIF(kind, ''), "
            "NULLIF(entry_type, ''), NULLIF(external_id, ''))"
        ),
        sql_safe("txid"),
    ]


COINTRACKER_SQL = [
    f"to_char({SQL_UTC}, 'MM/DD/YYYY HH24:MI:SS')",
    sql_number(SQL_RECEIVED_AMOUNT),
    sql_safe(SQL_RECEIVED_CURRENCY),
    sql_number(SQL_SENT_AMOUNT),
    sql_safe(SQL_SENT_CURRENCY),
    *SQL_FEE,
    "NULL",
]
NATIVE_SQL = [
    "NULLIF(exchange, '')",
    "connection_id::text",
    "kind",
    sql_safe("external_id"),
    f"""to_char({SQL_UTC}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    sql_safe("entry_type"),
    sql_safe("side"),
    sql_safe("currency"),
    sql_number("amount"),
    sql_safe("quote_currency"),
    sql_number("quote_amount"),
    sql_number("price"),
    sql_number("fee"),
    sql_safe("fee_currency"),
    sql_number("balance"),
    sql_safe("address"),
    sql_safe("txid"),
    sql_safe("status"),
]


@dataclass(frozen=True)
class Format:
    id: str
    extension: str
    content_type: str
    columns: list[str]
    row: object  # entry -> list of cells
    # The columns as SQL for the COPY path (a list, or a function giving one); None: no COPY path (XLSX).
    sql: object = None
    # Tax tools read every row as money that moved, so they get only deposits and withdrawals that completed; the
    # audit formats list every row with its status.
    completed_movements_only: bool = False
    # Every cell in quotes, the header too (CoinTracking's files).
    quote_all: bool = False

    @property
    def sql_columns(self) -> list[str] | None:
        return self.sql() if callable(self.sql) else self.sql


# By the stored value: ExportFormat members are those strings, and a job carries the string.
FORMATS: dict[str, Format] = {
    ExportFormat.KOINLY: Format(
        "koinly",
        "csv",
        "text/csv",
        [
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
        ],
        koinly_row,
        koinly_sql,
        completed_movements_only=True,
    ),
    ExportFormat.COINTRACKER: Format(
        "cointracker",
        "csv",
        "text/csv",
        [
            "Date",
            "Received Quantity",
            "Received Currency",
            "Sent Quantity",
            "Sent Currency",
            "Fee Amount",
            "Fee Currency",
            "Tag",
        ],
        cointracker_row,
        COINTRACKER_SQL,
        completed_movements_only=True,
    ),
    ExportFormat.COINLEDGER: Format(
        "coinledger", "csv", "text/csv", COINLEDGER_COLUMNS, coinledger_row, completed_movements_only=True
    ),
    ExportFormat.COINTRACKING: Format(
        "cointracking",
        "csv",
        "text/csv",
        COINTRACKING_COLUMNS,
        cointracking_row,
        completed_movements_only=True,
        quote_all=True,
    ),
    ExportFormat.NATIVE_CSV: Format("csv", "csv", "text/csv", NATIVE_COLUMNS, native_row, NATIVE_SQL),
    ExportFormat.XLSX: Format(
        "xlsx",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        NATIVE_COLUMNS,
        native_cells,
    ),
}


class RowsEndingInNewline:
    """csv quotes only cells holding a character of its row terminator: writing with "\r\n" makes it quote every
    cell with a CR or LF, as PostgreSQL's COPY does; each row then ends in "\n", as COPY ends rows, so both
    writers give the same bytes."""

    def __init__(self, file):
        self.file = file

    def write(self, line: str):
        return self.file.write(line[:-2] + "\n")


class CsvWriter:
    def __init__(self, path, columns, *, quote_all: bool = False):
        self.file = open(path, "w", newline="", encoding="utf-8")
        self.writer = csv.writer(
            RowsEndingInNewline(self.file),
            lineterminator="\r\n",
            quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
        )
        self.writer.writerow(columns)

    def write(self, row):
        self.writer.writerow(row)

    def close(self):
        self.file.close()


# XLSX column widths (characters) by header; others are as wide as their header, at least 10.
XLSX_WIDTHS = {
    "Exchange": 10,
    "Connection": 11,
    "External ID": 28,
    "Time (UTC)": 20,
    "Type": 14,
    "Amount": 24,
    "Quote Currency": 15,
    "Quote Amount": 24,
    "Price": 24,
    "Fee": 24,
    "Fee Currency": 13,
    "Balance": 24,
    "Address": 46,
    "TxHash": 46,
}
XLSX_AMOUNTS = ("Amount", "Quote Amount", "Price", "Fee", "Balance")
# Up to 18 decimal places, none padded; thousands grouped.
XLSX_AMOUNT_FORMAT = "#,##0.0#################"


class XlsxWriter:
    """openpyxl's write-only workbook keeps rows in a temporary file, not in memory.

    The header is bold and frozen, columns have widths. Amounts are number cells holding the exchange's decimal
    exactly as text in the file (openpyxl would print a Decimal through a float, "%.16g", and lose the 17th and
    18th digits); a spreadsheet reads them as numbers at its own precision, a reader of the file gets every digit.

    A sheet holds at most ``max_rows`` rows, its header included (Excel opens no sheet longer than 1,048,576
    rows): the rows go on in "History 2", "History 3", … each with the same header."""

    max_rows = 1_048_576

    def __init__(self, path, columns, *, max_rows: int | None = None):
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        self.path = path
        self.columns = columns
        if max_rows is not None:
            self.max_rows = max_rows
        if self.max_rows < 2:
            raise ValueError("A sheet must hold its header and at least one row.")
        self.workbook = Workbook(write_only=True)
        self.cell = WriteOnlyCell
        self.bold = Font(bold=True)
        self.amounts = [index for index, name in enumerate(columns) if name in XLSX_AMOUNTS]
        self.sheets = 0
        self.add_sheet()

    def add_sheet(self):
        from openpyxl.utils import get_column_letter

        self.sheets += 1
        self.sheet = self.workbook.create_sheet("History" if self.sheets == 1 else f"History {self.sheets}")
        self.sheet.freeze_panes = "A2"
        for index, name in enumerate(self.columns, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = XLSX_WIDTHS.get(name, max(10, len(name) + 2))
        header = [self.cell(self.sheet, value=name) for name in self.columns]
        for cell in header:
            cell.font = self.bold
        self.sheet.append(header)
        self.sheet_rows = 1

    def exact(self, value: Decimal | None):
        if value is None:
            return None
        cell = self.cell(self.sheet, value=number(value))
        cell.data_type = "n"  # written as the text it holds: the exact decimal
        cell.number_format = XLSX_AMOUNT_FORMAT
        return cell

    def write(self, row):
        # A new sheet only when a row is there for it: a full last sheet is not followed by an empty one.
        if self.sheet_rows >= self.max_rows:
            self.add_sheet()
        # Excel has no time zones: the column says UTC, the cell holds the naive UTC time.
        row[4] = row[4].replace(tzinfo=None)
        for index in self.amounts:
            row[index] = self.exact(row[index])
        self.sheet.append(row)
        self.sheet_rows += 1

    def close(self):
        self.workbook.save(self.path)


def open_writer(export_format: Format, path):
    if export_format.extension == "xlsx":
        return XlsxWriter(path, export_format.columns)
    return CsvWriter(path, export_format.columns, quote_all=export_format.quote_all)
