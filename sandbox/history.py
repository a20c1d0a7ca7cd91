"""Reading histories a page at a time: offset pages (KuCoin, Kraken, Peatio) and cursors (OKX)."""

from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet

from .models import HistoryRecord, SandboxUser

# Ledger entry types as each exchange spells them; the sandbox's records keep one neutral word (trade, deposit,
# withdrawal, fee), which is Kraken's own spelling (its Ledgers ``type``). A word a table lacks is answered as it is:
# a separate fee entry (a withdrawal's chain and OAuth fees) has no type of its own in KuCoin's or OKX's tables
# (level C: the sandbox's word, which no connector depends on).
LEDGER_TYPES = {
    # Get Account Ledgers, "BizType Description" (Kucoin/kucoin-api-docs source/localizable/index.html.md; level A).
    "kucoin": {"trade": "Trade_Exchange", "deposit": "Deposit", "withdrawal": "Withdrawal"},
    # Account Ledger in high-frequency trading accounts: bizType TRANSFER or TRADE_EXCHANGE (Kucoin/kucoin-api-docs-hf
    # source/localizable/index.html.md; level A): funds reach and leave trade_hf only by transfer.
    "kucoin_hf": {"trade": "TRADE_EXCHANGE", "deposit": "TRANSFER", "withdrawal": "TRANSFER"},
    # Get bills details ``type``: 1 transfer (deposits land in the funding account and reach the trading account by
    # transfer, withdrawals leave the same way), 2 trade (OKX docs-v5 as SDKs copy the table; level C).
    "okx": {"trade": "2", "deposit": "1", "withdrawal": "1"},
}
# KuCoin's ledger filter takes its own words (Get Account Ledgers, ``bizType``): DEPOSIT, WITHDRAW, TRANSFER,
# TRADE_EXCHANGE; the HF ledger TRANSFER and TRADE_EXCHANGE.
KUCOIN_BIZ_TYPE_FILTERS = {
    "kucoin": {"DEPOSIT": ["deposit"], "WITHDRAW": ["withdrawal"], "TRADE_EXCHANGE": ["trade"]},
    "kucoin_hf": {"TRANSFER": ["deposit", "withdrawal"], "TRADE_EXCHANGE": ["trade"]},
}


def ledger_type(exchange: str, record: HistoryRecord) -> str:
    """The ledger entry's type as the exchange spells it (KuCoin's HF entries as its HF ledger does)."""
    spelling = "kucoin_hf" if exchange == "kucoin" and record.details.get("hf") else exchange
    return LEDGER_TYPES.get(spelling, {}).get(record.entry_type, record.entry_type)


def ledger_type_filter(queryset: QuerySet, spelling: str, asked: str) -> QuerySet:
    """Entries of the type the caller asked for in the exchange's words (or the sandbox's, for what is not mapped)."""
    return queryset.filter(entry_type__in=KUCOIN_BIZ_TYPE_FILTERS.get(spelling, {}).get(asked.upper(), [asked]))


def records(user: SandboxUser, kind: str, *, currency: str | None = None, start_ms=None, end_ms=None) -> QuerySet:
    """Newest first, as every exchange lists its history; ``start_ms``/``end_ms`` both included."""
    queryset = HistoryRecord.objects.filter(user=user, kind=kind)
    if currency:
        queryset = queryset.filter(currency=currency.upper())
    if start_ms is not None and start_ms != "":
        queryset = queryset.filter(time__gte=from_ms(start_ms))
    if end_ms is not None and end_ms != "":
        queryset = queryset.filter(time__lte=from_ms(end_ms))
    return queryset.order_by("-time", "-id")


class RangeRefused(Exception):
    """A time range the exchange refuses (too long, or not numbers)."""


def time_range(start, end, *, span: timedelta, default_span: timedelta, now_ms: int) -> tuple[int, int]:
    """KuCoin's reading of startAt/endAt (ms) for a capped endpoint: only one given, the other is it ± ``span``;
    neither, the last ``default_span``; a range longer than ``span`` is refused."""
    span_ms, default_ms = int(span.total_seconds() * 1000), int(default_span.total_seconds() * 1000)
    try:
        start = int(start) if start not in (None, "") else None
        end = int(end) if end not in (None, "") else None
    except ValueError:
        raise RangeRefused("startAt and endAt are milliseconds.")
    if start is None and end is None:
        end = now_ms
        start = end - default_ms
    elif start is None:
        start = end - span_ms
    elif end is None:
        end = start + span_ms
    if end - start > span_ms:
        raise RangeRefused(f"The time range exceeds {span}.")
    return start, end


def offset_page(queryset: QuerySet, offset: int, limit: int) -> tuple[list, int]:
    return list(queryset[offset : offset + limit]), queryset.count()


def cursor_page(queryset: QuerySet, field: str, *, after=None, before=None, limit: int) -> list:
    """OKX style: ``after`` pages to older rows than the cursor, ``before`` to newer ones."""
    if field == "time":
        after, before = (from_ms(value) if value else None for value in (after, before))
    else:
        queryset = queryset.order_by(f"-{field}")  # a billId cursor pages in id order
    if after:
        queryset = queryset.filter(**{f"{field}__lt": after})
    if before:
        queryset = queryset.filter(**{f"{field}__gt": before})
        return list(reversed(queryset.order_by(field, "id")[:limit]))
    return list(queryset[:limit])


def from_ms(value) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def text(amount) -> str:
    """Decimals as exchanges print them: plain notation, no exponent, no trailing zeros."""
    if amount is None:
        return ""
    normalized = amount.normalize()
    return format(normalized, "f") if normalized != 0 else "0"
