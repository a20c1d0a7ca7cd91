"""The XLSX writer past a sheet's row limit: the rows go on in further sheets, each a sheet Excel opens."""

import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest

from exports.formats import NATIVE_COLUMNS, XlsxWriter, native_cells
from exports.models import HistoryEntry


def entries(count: int) -> list[HistoryEntry]:
    """Unsaved entries: the writer reads their fields only. Amounts with 18 decimals, which a double cannot hold."""
    return [
        HistoryEntry(
            exchange="kraken",
            connection_id=7,
            kind="ledger",
            external_id=f"L{index}",
            occurred_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=index),
            entry_type="staking",
            currency="BTC",
            amount=Decimal(f"{index}.000000000000000001"),
            fee=Decimal("0"),
            balance=Decimal(f"-{index}.5"),
            txid=f"R{index}",
        )
        for index in range(1, count + 1)
    ]


def test_the_default_limit_is_excels():
    assert XlsxWriter.max_rows == 1_048_576


@pytest.mark.parametrize(
    "count, sheet_names",
    [
        (0, ["History"]),
        (2, ["History"]),  # header and two rows: full, and no empty sheet after it
        (4, ["History", "History 2"]),
        (5, ["History", "History 2", "History 3"]),
    ],
)
def test_rows_past_the_limit_go_on_in_further_sheets_each_with_the_header(tmp_path, count, sheet_names):
    path = tmp_path / "history.xlsx"
    written = entries(count)
    writer = XlsxWriter(path, NATIVE_COLUMNS, max_rows=3)
    for entry in written:
        writer.write(native_cells(entry))
    writer.close()

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == sheet_names
    external_ids = []
    archive = zipfile.ZipFile(path)
    for number, sheet in enumerate(workbook.worksheets, start=1):
        assert sheet.max_row <= 3 and sheet.freeze_panes == "A2"
        assert [cell.value for cell in sheet[1]] == NATIVE_COLUMNS and all(cell.font.bold for cell in sheet[1])
        widths = {cell.value: sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]}
        assert widths["TxHash"] == 46 and widths["Amount"] == 24 and widths["Kind"] == 10
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
        external_ids += [row[3] for row in rows]
        # Every digit in the file, in the sheet the row is on.
        xml = archive.read(f"xl/worksheets/sheet{number}.xml").decode()
        for entry in written[(number - 1) * 2 : number * 2]:
            assert f"<v>{entry.amount}</v>" in xml and f"<v>{entry.balance}</v>" in xml
    assert external_ids == [entry.external_id for entry in written]  # every row once, in order


def test_a_sheet_holds_its_header_and_a_row_at_least(tmp_path):
    with pytest.raises(ValueError):
        XlsxWriter(tmp_path / "history.xlsx", NATIVE_COLUMNS, max_rows=1)
