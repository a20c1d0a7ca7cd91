"""The accountant's file of payouts: one row per payout, through the exports' CSV rules (safe_text against
spreadsheet formulas, amounts in plain notation, rows ending in "\\n")."""

import csv
import io

from exports.formats import RowsEndingInNewline, number, safe_text

COLUMNS = [
    "Batch",
    "Reference",
    "User",
    "Exchange",
    "Asset",
    "Network",
    "Amount",
    "Address",
    "Memo",
    "Status",
    "Resolved At (UTC)",
    "TxHash",
    "Sent At (UTC)",
    "Received At (UTC)",
    "Deposit ID",
]


def when(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def payout_row(payout) -> list[str]:
    return [
        safe_text(payout.batch.name),
        safe_text(payout.reference),
        safe_text(payout.user.email),
        payout.connection.exchange,
        safe_text(payout.asset),
        safe_text(payout.network_name or payout.network),
        number(payout.amount),
        safe_text(payout.address),
        safe_text(payout.memo),
        payout.status,
        when(payout.resolved_at),
        safe_text(payout.txid),
        when(payout.sent_at),
        when(payout.received_at),
        safe_text(payout.deposit.external_id if payout.deposit else ""),
    ]


def payouts_csv(payouts) -> str:
    out = io.StringIO()
    writer = csv.writer(RowsEndingInNewline(out), lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for payout in payouts:
        writer.writerow(payout_row(payout))
    return out.getvalue()
