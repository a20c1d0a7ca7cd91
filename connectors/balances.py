"""Balances as the dashboard shows them, without a page ever waiting on an exchange.

Each active connection's balances (and the exchange's USDT prices for them) are kept as a snapshot in the cache
with the time they were read. Workers fill snapshots ahead of need: on connect, and every minute for the
connections of users signed in lately (``connections_balances_warm``). A page reads every snapshot it needs in one
cache round trip; where one is due it starts a fill in the background and waits for it at most
BALANCES_PAGE_WAIT_SECONDS, then shows what it has with its age ("as of 2 minutes ago"). One fill at a time per
connection (a cache lock: 50 pages loading at expiry start one fill, the other 49 show the last snapshot), and a
failed fill is remembered for BALANCES_FAILURE_SECONDS, shown as what it is, before the exchange is asked again.
"""

import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from broker_portal.enqueue import enqueue_each, enqueue_on_commit
from broker_portal.models import Tenant

from .base.api import ExchangeAPIError
from .base.http import ExchangeUnavailable
from .models import ExchangeConnection, ExchangeCredential
from .token_refresh import RefreshFailed, call_with_fresh_token

logger = logging.getLogger(__name__)

# The currency every connector prices in (each exchange's public ticker, see the connectors' ``usdt_prices``), as
# the withdrawal fees are priced. A tenant's own reference currency (Tenant.reference_currency) is priced in it too:
# every read asks for the USDT price of each reference currency, so that a change of it needs no new read.
REFERENCE_CURRENCY = "USDT"
REFERENCE_CURRENCIES = list(Tenant.ReferenceCurrency.values)
UNREADABLE_SECRETS = "The keys stored for this connection cannot be read, so it cannot be used; connect it again."


def snapshot_key(connection_id: int) -> str:
    return f"portal:balances:{connection_id}"


def fill_lock_key(connection_id: int) -> str:
    return f"portal:balances-fill:{connection_id}"


def fill_claim(connection_id: int) -> str | None:
    """Take the connection's fill lock: a token to release it with, or None where a fill is already running.
    The lock outlives an exchange call's timeout, so a fill that died leaves it to expire, never to stick."""
    token = secrets.token_hex(8)
    return token if cache.add(fill_lock_key(connection_id), token, settings.BALANCES_FILL_LOCK_SECONDS) else None


def fill_release(connection_id: int, token: str) -> None:
    if cache.get(fill_lock_key(connection_id)) == token:
        cache.delete(fill_lock_key(connection_id))


def snapshot_age(snapshot: dict, field: str, now: datetime) -> float | None:
    at = snapshot.get(field)
    return (now - datetime.fromisoformat(at)).total_seconds() if at else None


def fill_due(snapshot: dict | None, now: datetime, fresh_seconds: float | None = None) -> bool:
    """Whether a snapshot is old enough to be read again, and not within a remembered failure."""
    if snapshot is None:
        return True
    failed = snapshot_age(snapshot, "failed_at", now)
    if failed is not None and failed < settings.BALANCES_FAILURE_SECONDS:
        return False
    fetched = snapshot_age(snapshot, "fetched_at", now)
    fresh = settings.BALANCES_FRESH_SECONDS if fresh_seconds is None else fresh_seconds
    return fetched is None or fetched >= fresh


def read_balances(connection: ExchangeConnection, credential: ExchangeCredential) -> tuple[list, dict]:
    """One read at the exchange: the non-zero balances, and the USDT price of each currency it quotes."""
    from .clients import exchange_api  # the selectors import this module for the dashboard

    api = exchange_api(credential)
    if api is None or not connection.api_key:
        return [], {}
    # An expired token (Peatio's key pair is its token) is refreshed once, single-flight, and the call retried.
    balances = [b for b in call_with_fresh_token(connection=connection, call=api.balances) if b.total]
    others = sorted(({b.currency for b in balances} | set(REFERENCE_CURRENCIES)) - {REFERENCE_CURRENCY})
    return balances, {REFERENCE_CURRENCY: Decimal(1), **(api.usdt_prices(others) if others else {})}


def snapshot_of(balances: list, prices: dict) -> dict:
    """A read as the cache keeps it (amounts as text: exact, and safe for any serializer)."""
    return {
        "balances": [{"currency": b.currency, "total": str(b.total)} for b in balances],
        "prices": {code: str(price) for code, price in prices.items()},
    }


def connection_balances_fill(*, connection_id: int, claimed: str | None = None) -> dict | None:
    """Read a connection's balances at its exchange and keep them as its snapshot; None where another fill of it
    is running (or it is no longer active). A failure keeps the last good balances and says when it happened."""
    token = claimed or fill_claim(connection_id)
    if token is None:
        return None
    try:
        connection = (
            ExchangeConnection.objects.without_secrets()
            .filter(pk=connection_id, status=ExchangeConnection.Status.ACTIVE)
            .first()
        )
        if connection is None:
            return None
        from .selectors import CredentialNotOffered, connection_credential  # the selectors import this module

        try:
            credential = connection_credential(connection)
        except CredentialNotOffered:  # deleted since: no balances to read
            return None
        now = timezone.now()
        previous = cache.get(snapshot_key(connection_id)) or {}
        try:
            if connection.unreadable_secrets:
                snapshot = {**previous, "error": UNREADABLE_SECRETS, "failed_at": now.isoformat()}
            else:
                snapshot = {
                    **snapshot_of(*read_balances(connection, credential)),
                    "fetched_at": now.isoformat(),
                    "error": "",
                }
        except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed) as error:
            snapshot = {
                **previous,
                "error": f"Balances are unavailable right now ({error}).",
                "failed_at": now.isoformat(),
            }
        cache.set(snapshot_key(connection_id), snapshot, settings.BALANCES_KEEP_SECONDS)
        return snapshot
    finally:
        fill_release(connection_id, token)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def fill_pool() -> ThreadPoolExecutor:
    """The web process's few threads that fill snapshots for its pages (created at first use, after a fork)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=int(settings.BALANCES_FILL_THREADS), thread_name_prefix="balances-fill"
            )
        return _pool


def fill_in_background(connection_id: int, token: str) -> dict | None:
    try:
        return connection_balances_fill(connection_id=connection_id, claimed=token)
    except Exception:  # a thread's failure must not go unseen; the page shows the last snapshot
        logger.exception("Balances fill failed", extra={"connection_id": connection_id})
        return None
    finally:
        connections.close_all()  # this thread's own database connections


def balances_for_page(connection_ids: list[int]) -> dict[int, dict]:
    """Each connection's snapshot, as fresh as BALANCES_PAGE_WAIT_SECONDS allows: due ones are filled in the
    background, concurrently, and a fill that takes longer finishes for the next page. {} for one never read."""
    now = timezone.now()
    keys = {connection_id: snapshot_key(connection_id) for connection_id in connection_ids}
    found = cache.get_many(list(keys.values()))
    snapshots = {connection_id: found.get(key) for connection_id, key in keys.items()}
    due = {connection_id for connection_id, snapshot in snapshots.items() if fill_due(snapshot, now)}
    started = {
        connection_id: fill_pool().submit(fill_in_background, connection_id, token)
        for connection_id in sorted(due)
        if (token := fill_claim(connection_id))
    }
    filled = set()
    if started:
        wait(started.values(), timeout=settings.BALANCES_PAGE_WAIT_SECONDS)
        for connection_id, future in started.items():
            if future.done() and future.result() is not None:
                snapshots[connection_id] = {**future.result(), "filled_now": True}
                filled.add(connection_id)
    # "filling": a read is under way (this page's, or a sibling's that holds the lock) and will finish for the next.
    return {
        connection_id: {**(snapshot or {}), "filling": connection_id in due - filled}
        for connection_id, snapshot in snapshots.items()
    }


def connection_balances_fill_soon(*, connection_id: int) -> None:
    """After the current transaction commits, a worker reads the connection's balances (a new connection's first)."""
    cache.delete(snapshot_key(connection_id))
    enqueue_on_commit("connectors.tasks.fill_connection_balances", connection_id)


def connections_balances_warm(*, now: datetime | None = None) -> int:
    """Beat's minute: enqueue a fill for each active connection of a user signed in within BALANCES_WARM_SECONDS
    whose snapshot is due within the next minute, so that their dashboard finds it fresh. Returns how many."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.BALANCES_WARM_SECONDS)
    connection_ids = list(
        ExchangeConnection.objects.filter(
            status=ExchangeConnection.Status.ACTIVE, user__last_login__gte=since
        ).values_list("pk", flat=True)
    )
    ahead = max(settings.BALANCES_FRESH_SECONDS - 60, 0)
    due = []
    for start in range(0, len(connection_ids), 500):
        chunk = connection_ids[start : start + 500]
        found = cache.get_many([snapshot_key(connection_id) for connection_id in chunk])
        due += [
            connection_id
            for connection_id in chunk
            if fill_due(found.get(snapshot_key(connection_id)), now, fresh_seconds=ahead)
        ]
    return enqueue_each("connectors.tasks.fill_connection_balances", ([connection_id] for connection_id in due))
