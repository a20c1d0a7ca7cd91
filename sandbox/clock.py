"""The sandbox's "now": the real clock plus an offset set through /sandbox/control/clock."""

from datetime import datetime, timedelta

from django.utils import timezone

from .models import SandboxClock


def offset_seconds() -> float:
    row = SandboxClock.objects.filter(pk=1).first()
    return row.offset_seconds if row else 0.0


def set_offset(seconds: float) -> float:
    SandboxClock.objects.update_or_create(pk=1, defaults={"offset_seconds": float(seconds)})
    return float(seconds)


def now() -> datetime:
    return timezone.now() + timedelta(seconds=offset_seconds())


def now_ms() -> int:
    return int(now().timestamp() * 1000)


def real_now_ms() -> int:
    """Request timestamps (KC-API-TIMESTAMP, OK-ACCESS-TIMESTAMP, tonce) are checked against the real
    clock: the offset simulates time passing for lifetimes, while clients' clocks stay in sync."""
    return int(timezone.now().timestamp() * 1000)
