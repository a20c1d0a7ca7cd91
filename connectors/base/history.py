"""History an exchange package provides for exports (its ``history`` module's ``SOURCE``), and small readers
shared by them."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from django.db import models


class HistoryKind(models.TextChoices):
    TRADE = "trade", "Trades"
    DEPOSIT = "deposit", "Deposits"
    WITHDRAWAL = "withdrawal", "Withdrawals"
    LEDGER = "ledger", "Ledger entries"

# fetch_page(api, connection, kind, cursor) -> (raw items, next cursor or None); cursor None = newest page.
FetchPage = Callable[[Any, Any, str, Any], tuple[list, Any]]
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
    # the next syncs while recent (see services.pass_floor).
    completed_statuses: dict[str, frozenset[str]] = field(default_factory=dict)
    final_statuses: dict[str, frozenset[str]] = field(default_factory=dict)


def decimal(value, default: str = "0") -> Decimal:
    if value in (None, ""):
        return Decimal(default)
    return Decimal(str(value))


def from_ms(value) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)


def from_seconds(value) -> datetime:
    """Kraken's float seconds ("1688667796.8802"), read as a decimal so no binary rounding creeps in."""
    seconds = Decimal(str(value))
    moment = datetime.fromtimestamp(int(seconds), tz=timezone.utc)
    return moment.replace(microsecond=int((seconds - int(seconds)) * 1_000_000))


def from_iso(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def split_symbol(symbol: str, quotes: tuple[str, ...]) -> tuple[str, str]:
    """A market without a separator ("XBTUSDT", "btcusdt"): the longest known quote currency at its end."""
    upper = symbol.upper()
    for quote in sorted(quotes, key=len, reverse=True):
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    return upper, ""
