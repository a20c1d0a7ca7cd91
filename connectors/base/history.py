"""History an exchange package provides for exports (its ``history`` module's ``SOURCE``), and small readers
shared by them."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import models


class HistoryKind(models.TextChoices):
    TRADE = "trade", "Trades"
    DEPOSIT = "deposit", "Deposits"
    WITHDRAWAL = "withdrawal", "Withdrawals"
    LEDGER = "ledger", "Ledger entries"


class Page(NamedTuple):
    items: list
    # The cursor of the next page, or None when the pass is over.
    next_cursor: Any
    # Set where the exchange answered only part of what was asked (a list capped at its newest rows): the pass
    # holds everything only from this moment (ms) on.
    reach_ms: int | None = None


# fetch_page(api, connection, kind, cursor) -> Page. A pass's first cursor is {"since": ms, "until": ms} (the
# range to walk, newest first: see first_cursor); a module keeps both keys in every cursor it returns and adds its
# own (window, page, currency...). The module ends the pass once it has walked back to ``since``.
FetchPage = Callable[[Any, Any, str, dict], Page]
# normalize(kind, raw item) -> the HistoryEntry fields (external_id, occurred_at, currency, amount, ...).
Normalize = Callable[[str, Any], dict]


@dataclass(frozen=True)
class HistorySource:
    exchange: str
    kinds: tuple[str, ...]
    # Seconds between two pages of the same connection: each exchange's published rate limit, with room.
    pause_seconds: float
    fetch_page: FetchPage
    normalize: Normalize
    # Deposit and withdrawal statuses per kind, as the exchange spells them. ``completed``: the money moved (what
    # tax tools are given). ``final``: the row will not change again; a row in any other status is read again by
    # the next syncs while recent (see exports.services.sync.pass_floor).
    completed_statuses: dict[str, frozenset[str]] = field(default_factory=dict)
    final_statuses: dict[str, frozenset[str]] = field(default_factory=dict)
    # How long the exchange keeps each kind, where its documents say: a sync walks back no further.
    kept_for: dict[str, timedelta] = field(default_factory=dict)
    # Ledger entry types, as the exchange spells them, that repeat a trade, deposit or withdrawal the sync also
    # stores as its own row, or move nothing out of the user's account (a transfer between its own accounts at the
    # exchange): the tax formats leave them out, so each economic movement is in their files once (exports/MAPPING.md).
    ledger_repeats: frozenset[str] = frozenset()


def first_cursor(since: datetime, until: datetime) -> dict:
    return {"since": to_ms(since), "until": to_ms(until)}


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def next_window(cursor: dict, span: timedelta, **reset) -> dict:
    """Time windows walked newest first: the cursor of the window ending at ``cursor["end"]`` (the pass's ``until``
    at first), at most ``span`` long and not before ``since``. ``reset`` names what a new window starts again (its
    page)."""
    end = cursor.get("end", cursor["until"])
    start = max(end - int(span.total_seconds() * 1000), cursor["since"])
    return {**cursor, "start": start, "end": end, **reset}


def window_before(cursor: dict, **reset) -> dict | None:
    """The cursor of the window older than the one just read, or None when that one began at ``since``."""
    if cursor["start"] <= cursor["since"]:
        return None
    following = {**cursor, **reset, "end": cursor["start"]}
    following.pop("start")
    return following


def decimal(value, default: str = "0") -> Decimal:
    if value in (None, ""):
        return Decimal(default)
    return Decimal(str(value))


def older_than_since(cursor: dict, times_ms: list[int]) -> bool:
    """A newest-first stream has walked back to the pass's ``since`` once a row is older than it."""
    return any(moment < cursor["since"] for moment in times_ms)


def from_ms(value) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def from_seconds(value) -> datetime:
    """Kraken's float seconds ("1688667796.8802"), read as a decimal so no binary rounding creeps in."""
    seconds = Decimal(str(value))
    moment = datetime.fromtimestamp(int(seconds), tz=UTC)
    return moment.replace(microsecond=int((seconds - int(seconds)) * 1_000_000))


def from_iso(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def split_symbol(symbol: str, quotes: tuple[str, ...]) -> tuple[str, str]:
    """A market without a separator ("XBTUSDT", "btcusdt"): the longest known quote currency at its end."""
    upper = symbol.upper()
    for quote in sorted(quotes, key=len, reverse=True):
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    return upper, ""
