"""A worker killed (SIGKILL) in the middle of the sweep's batch, during one connection's token call: the rest of the
batch is refreshed by another worker within seconds, not after the sweep's 5-minute claim or the broker's visibility
timeout, and the connection it was refreshing is enqueued again once that call can no longer be in flight. That
connection is then refreshed (the exchange never rotated its pair) or, where the exchange had rotated it and the
answer died with the worker, marked as needing reauthorization: never left active with a dead pair."""

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from broker_portal.models import AuditEvent
from connectors import token_refresh
from connectors.models import ExchangeConnection
from connectors.token_refresh import connections_sweep
from sandbox import faults as sandbox_faults
from sandbox.models import Fault
from sandbox.models import Token as SandboxToken
from tests.connectors.helpers import assert_alive_at_the_sandbox
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# The exchange takes this long to answer the token call the worker is killed in; the portal gives up on a token
# call after EXCHANGE_HTTP_TIMEOUT (set to 2 + 4 s here), and only then sends that refresh token again.
EXCHANGE_DELAY_SECONDS = 3
BOUND_SECONDS = 60  # "within a minute": the claim alone would hold them 5 minutes plus 60 s of grace


def refreshed(connections) -> bool:
    return all(ExchangeConnection.objects.get(pk=c.pk).last_refreshed_at for c in connections)


@pytest.mark.parametrize("answer", ["rotated_after_the_kill", "never_rotated"])
def test_a_worker_killed_mid_refresh_holds_up_nothing_and_loses_no_connection(make_connection, workers, answer):
    # The one being refreshed when the worker dies is the only Kraken connection, and the first due.
    cut_off = make_connection("kraken", access_expires_in=timedelta(minutes=1))
    rest = [
        make_connection(exchange, access_expires_in=timedelta(minutes=3))
        for exchange in ("kucoin", "kucoin", "kucoin", "peatio", "peatio")
    ]
    spent_refresh_token = cut_off.refresh_token
    # "slow": the exchange rotates the pair after the delay, the answer goes to a dead socket. "hang": it gives
    # up after the delay with a 504 and rotates nothing.
    sandbox_faults.fault_set(
        exchange="kraken",
        endpoint="token",
        count=1,
        delay_seconds=EXCHANGE_DELAY_SECONDS,
        kind="slow" if answer == "rotated_after_the_kill" else "hang",
    )

    first = workers("first")
    assert connections_sweep()["enqueued"] == 6
    assert wait_until(lambda: not Fault.objects.exists(), 60) is not None, "the worker never reached Kraken"
    os.killpg(first.pid, signal.SIGKILL)  # in the middle of the Kraken token call, the batch still queued
    first.wait()
    killed_at = time.monotonic()

    workers("second")
    rest_took = wait_until(lambda: refreshed(rest), BOUND_SECONDS, sweep=True)
    assert rest_took is not None, "the rest of the batch waited for the claim"

    def settled() -> bool:
        row = ExchangeConnection.objects.get(pk=cut_off.pk)
        return row.status == "needs_reauthorization" or row.last_refreshed_at is not None

    assert wait_until(settled, BOUND_SECONDS - (time.monotonic() - killed_at), sweep=True) is not None, (
        "the connection being refreshed when the worker died waited for its claim"
    )
    for connection in rest:
        connection.refresh_from_db()
        assert connection.status == "active"
        assert_alive_at_the_sandbox(connection)

    cut_off.refresh_from_db()
    assert AuditEvent.objects.filter(action="connection.refresh_interrupted", target_id=str(cut_off.pk)).exists()
    if answer == "never_rotated":
        assert cut_off.status == "active" and cut_off.refresh_token != spent_refresh_token
        assert_alive_at_the_sandbox(cut_off)
    else:
        # The exchange spent the refresh token on the call whose answer died with the worker: rotation forces a
        # new authorization, and the connection says so.
        assert SandboxToken.objects.get(refresh_token=spent_refresh_token).refresh_used_at is not None
        assert cut_off.status == "needs_reauthorization" and "connect again" in cut_off.last_error
        event = AuditEvent.objects.get(action="connection.needs_reauthorization", target_id=str(cut_off.pk))
        assert event.details["reason"] == "invalid_grant"
    # Everything is fresh or settled: the next sweeps enqueue nothing more.
    assert connections_sweep()["enqueued"] == 0


def test_only_a_claim_whose_worker_died_is_enqueued_again(make_connection, settings, monkeypatch):
    """Queued (no mark), being refreshed (marked and locked), finished (the claim changed) or cut off too recently
    for its call to be over: none is enqueued twice. Marked, unlocked, the claim as the worker found it: enqueued."""
    settings.EXCHANGE_HTTP_TIMEOUT = (1, 2)
    enqueued = []
    monkeypatch.setattr(token_refresh, "enqueue_refreshes", enqueued.extend)
    queued, running, finished, recent, abandoned = [make_connection("kucoin") for _ in range(5)]
    assert connections_sweep()["enqueued"] == 5
    later = timezone.now() + timedelta(seconds=10)  # the sweep that finds them, ten seconds on
    for connection, taken_seconds_ago in ((running, 10), (finished, 10), (recent, 1), (abandoned, 10)):
        connection.refresh_from_db()
        token_refresh.mark_refresh_taken(connection, later - timedelta(seconds=taken_seconds_ago))
    ExchangeConnection.objects.filter(pk=finished.pk).update(
        next_refresh_attempt_at=None, access_expires_at=later + timedelta(hours=1)
    )
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with transaction.atomic():
            ExchangeConnection.objects.select_for_update(no_key=True).get(pk=running.pk)
            locked.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        enqueued.clear()
        assert connections_sweep(now=later)["enqueued"] == 1
        assert enqueued == [abandoned.pk]
        assert connections_sweep(now=later)["enqueued"] == 0  # claimed again: queued now, like the others
    finally:
        release.set()
        holder.join()
    assert AuditEvent.objects.filter(action="connection.refresh_interrupted").count() == 1
