"""Reading histories a page at a time: offset pages (KuCoin, Kraken, Peatio) and cursors (OKX)."""

from datetime import datetime, timezone

from django.db.models import QuerySet

from .models import HistoryRecord, SandboxUser


def records(user: SandboxUser, kind: str, *, currency: str | None = None, start_ms=None, end_ms=None) -> QuerySet:
    """Newest first, as every exchange lists its history."""
    queryset = HistoryRecord.objects.filter(user=user, kind=kind)
    if currency:
        queryset = queryset.filter(currency=currency.upper())
    if start_ms:
        queryset = queryset.filter(time__gte=from_ms(start_ms))
    if end_ms:
        queryset = queryset.filter(time__lte=from_ms(end_ms))
    return queryset.order_by("-time", "-id")


def offset_page(queryset: QuerySet, offset: int, limit: int) -> tuple[list, int]:
    return list(queryset[offset:offset + limit]), queryset.count()


def cursor_page(queryset: QuerySet, field: str, *, after=None, before=None, limit: int) -> list:
    """OKX style: ``after`` pages to older rows than the cursor, ``before`` to newer ones."""
    if field == "time":
        after, before = (from_ms(value) if value else None for value in (after, before))
    if after:
        queryset = queryset.filter(**{f"{field}__lt": after})
    if before:
        queryset = queryset.filter(**{f"{field}__gt": before})
        return list(reversed(queryset.order_by(field, "id")[:limit]))
    return list(queryset[:limit])


def from_ms(value) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def text(amount) -> str:
    """Decimals as exchanges print them: plain notation, no exponent, no trailing zeros."""
    if amount is None:
        return ""
    normalized = amount.normalize()
    return format(normalized, "f") if normalized != 0 else "0"
