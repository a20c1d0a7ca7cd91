"""Tax files hold each economic movement once: an exchange's ledger repeats its fills, deposits and withdrawals
(and moves money between the user's own accounts), and the tax formats leave those ledger rows out, keeping the
ledger's own movements (a fee, a reward). One fixture per exchange, with the exchange's own spellings; the mapping
is in exports/MAPPING.md."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connectors.models import ExchangeConnection
from exports.models import ExportJob, HistoryEntry
from exports.services.jobs import export_run
from exports.services.writers import export_path

pytestmark = pytest.mark.django_db

# exchange: rows (kind, entry type, amount, status, side), and the movements a tax file must hold once each.
FIXTURES = {
    "kucoin": (
        [
            ("trade", "", "1", "", "buy"),
            ("ledger", "Trade_Exchange", "1", "", ""),
            ("ledger", "Trade_Exchange", "-60000", "", ""),
            ("deposit", "", "2", "SUCCESS", ""),
            ("ledger", "Deposit", "2", "", ""),
            ("withdrawal", "", "3", "SUCCESS", ""),
            ("ledger", "Withdrawal", "-3", "", ""),
            ("ledger", "Transfer", "-4", "", ""),
            ("ledger", "Transfer", "4", "", ""),
            ("ledger", "KCS Pay Fees", "-0.5", "", ""),
        ],
        {("trade", "1"), ("deposit", "2"), ("withdrawal", "3"), ("ledger", "-0.5")},
    ),
    "kraken": (
        [
            ("trade", "", "1", "", "sell"),
            ("ledger", "trade", "-1", "", ""),
            ("ledger", "trade", "60000", "", ""),
            ("deposit", "", "2", "Success", ""),
            ("ledger", "deposit", "2", "", ""),
            ("withdrawal", "", "3", "Success", ""),
            ("ledger", "withdrawal", "-3", "", ""),
            ("ledger", "staking", "0.25", "", ""),
            ("ledger", "transfer", "7", "", ""),
        ],
        {("trade", "1"), ("deposit", "2"), ("withdrawal", "3"), ("ledger", "0.25"), ("ledger", "7")},
    ),
    "okx": (
        [
            ("trade", "", "1", "", "buy"),
            ("ledger", "2", "1", "", ""),
            ("ledger", "2", "-60000", "", ""),
            ("deposit", "", "2", "2", ""),
            ("ledger", "1", "2", "", ""),
            ("withdrawal", "", "3", "2", ""),
            ("ledger", "1", "-3", "", ""),
            ("ledger", "8", "-0.1", "", ""),
        ],
        {("trade", "1"), ("deposit", "2"), ("withdrawal", "3"), ("ledger", "-0.1")},
    ),
}


@pytest.fixture
def histories(tenant, member):
    for exchange_id, (rows, _) in FIXTURES.items():
        connection = ExchangeConnection.objects.create(tenant=tenant, user=member, exchange=exchange_id)
        HistoryEntry.objects.bulk_create(
            [
                HistoryEntry(
                    tenant=tenant,
                    connection=connection,
                    user=member,
                    exchange=exchange_id,
                    kind=kind,
                    external_id=f"{exchange_id}-{n}",
                    entry_type=entry_type,
                    side=side,
                    status=status,
                    occurred_at=datetime(2025, 3, 1 + n, tzinfo=UTC),
                    currency="BTC",
                    amount=Decimal(amount),
                    quote_currency="USDT" if kind == "trade" else "",
                    quote_amount=Decimal(60000) if kind == "trade" else None,
                    fee_currency="BTC",
                )
                for n, (kind, entry_type, amount, status, side) in enumerate(rows)
            ]
        )


def exported(tenant, member, export_format, use_copy):
    job = ExportJob.objects.create(
        tenant=tenant,
        requested_by=member,
        scope="tenant",
        format=export_format,
        kinds=["trade", "deposit", "withdrawal", "ledger"],
        date_from=date(2025, 1, 1),
        date_to=date(2025, 12, 31),
    )
    return list(csv.DictReader(io.StringIO(export_path(export_run(job=job, use_copy=use_copy)).read_text())))


COLUMNS = {  # format: (sent amount, received amount, the cell naming the row)
    "koinly": ("Sent Amount", "Received Amount", "Description"),
    "cointracker": ("Sent Quantity", "Received Quantity", None),
    "coinledger": ("Amount Sent", "Amount Received", "Description (Optional)"),
    "cointracking": ("Sell Amount", "Buy Amount", "Comment"),
}


@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "python"])
@pytest.mark.parametrize("export_format", list(COLUMNS))
def test_each_movement_is_in_the_tax_file_once(histories, tenant, member, export_format, use_copy, settings):
    if use_copy and export_format in ("coinledger", "cointracking"):
        pytest.skip("written in Python only")
    rows = exported(tenant, member, export_format, use_copy)
    expected = sum(len(movements) for _, movements in FIXTURES.values())
    assert len(rows) == expected
    sent, received, named = COLUMNS[export_format]
    if named:
        for exchange_id, (_, movements) in FIXTURES.items():
            name = {"kucoin": "KuCoin", "kraken": "Kraken", "okx": "OKX"}[exchange_id]
            mine = [row for row in rows if row[named].startswith(name + " ")]
            kinds = sorted(row[named].split(" ")[1] for row in mine)
            assert kinds == sorted(kind for kind, _ in movements), exchange_id
            # A withdrawal is money sent, never received.
            [withdrawal] = [row for row in mine if row[named].split(" ")[1] == "withdrawal"]
            assert (withdrawal[sent], withdrawal[received]) == ("3", "")
            [deposit] = [row for row in mine if row[named].split(" ")[1] == "deposit"]
            assert (deposit[sent], deposit[received]) == ("", "2")
