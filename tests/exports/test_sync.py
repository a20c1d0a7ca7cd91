"""Syncing each exchange's history from the live sandbox: everything once, nothing twice, resuming after faults."""

import dataclasses

import pytest
import requests

from connectors.base.http import ExchangeUnavailable
from connectors.exchanges import exchange_packages, history_source
from exports import services
from exports.models import HistoryEntry, SyncState
from sandbox import clock
from sandbox.models import HistoryRecord, SandboxUser

def replace_history_fetch(monkeypatch, exchange_id, fetch_page):
    """The exchange package's history source, reading its pages through ``fetch_page``."""
    package = exchange_packages()[exchange_id]
    monkeypatch.setitem(exchange_packages(), exchange_id, dataclasses.replace(
        package, history=dataclasses.replace(package.history, fetch_page=fetch_page)))


pytestmark = pytest.mark.django_db(transaction=True)

KINDS = {
    "kucoin": {"trade", "deposit", "withdrawal", "ledger"},
    "okx": {"trade", "deposit", "withdrawal", "ledger"},
    "kraken": {"trade", "deposit", "withdrawal", "ledger"},
    "peatio": {"trade", "deposit", "withdrawal"},  # Peatio keeps no ledger
}


def sandbox_rows(exchange_id, kind):
    user = SandboxUser.objects.get(exchange=exchange_id, email=f"trader@{exchange_id}.sandbox")
    return HistoryRecord.objects.filter(user=user, kind=kind)


@pytest.mark.parametrize("exchange_id", ["kucoin", "okx", "kraken", "peatio"])
def test_sync_imports_the_whole_history_and_a_second_sync_adds_nothing(connect, exchange_id):
    connection = connect(exchange_id)
    added = services.sync_connection_history(connection=connection)
    assert set(added) == KINDS[exchange_id]
    for kind in KINDS[exchange_id]:
        expected = sandbox_rows(exchange_id, kind)
        assert added[kind] == expected.count() == 10
        stored = HistoryEntry.objects.filter(connection=connection, kind=kind)
        # Same moments and amounts as the exchange's own records (ledger amounts keep their sign).
        assert sorted((e.occurred_at, e.amount, e.currency) for e in stored) == \
            sorted((r.time, r.amount, r.currency) for r in expected)
        assert {e.tenant_id for e in stored} == {connection.tenant_id}
    assert services.sync_connection_history(connection=connection) == {kind: 0 for kind in KINDS[exchange_id]}
    assert HistoryEntry.objects.filter(connection=connection).count() == 10 * len(KINDS[exchange_id])


def test_trades_keep_both_sides_and_the_fee(connect):
    connection = connect("kucoin")
    services.sync_connection_history(connection=connection, kinds=["trade"])
    record = sandbox_rows("kucoin", "trade").order_by("time").first()
    entry = HistoryEntry.objects.get(connection=connection, kind="trade", external_id=record.txid)
    base, quote = record.pair.split("-")
    assert (entry.currency, entry.quote_currency, entry.side) == (base, quote, record.side)
    assert (entry.amount, entry.price, entry.fee, entry.fee_currency) == \
        (record.amount, record.price, record.fee, record.fee_currency)
    assert entry.quote_amount == record.price * record.amount


def test_new_rows_at_the_exchange_arrive_with_the_next_sync(connect, monkeypatch):
    connection = connect("kucoin")
    monkeypatch.setattr("connectors.kucoin.history.PAGE_SIZE", 3)  # several pages
    services.sync_connection_history(connection=connection, kinds=["deposit"])
    newest = sandbox_rows("kucoin", "deposit").order_by("-time").first()
    for offset in (1, 2, 3, 4):
        HistoryRecord.objects.create(user=newest.user, kind="deposit", synthetic=False, txid=f"Dnew{offset}",
                                     time=newest.time.replace(year=newest.time.year + 1, day=offset),
                                     currency="BTC", amount="0.5", fee="0", fee_currency="BTC", status="SUCCESS",
                                     details={})
    assert services.sync_connection_history(connection=connection, kinds=["deposit"]) == {"deposit": 4}
    assert HistoryEntry.objects.filter(connection=connection, kind="deposit").count() == 14


def test_a_failed_sync_resumes_at_the_page_it_stopped_on(connect, portal, monkeypatch):
    connection = connect("kucoin")
    monkeypatch.setattr("connectors.kucoin.history.PAGE_SIZE", 3)  # ten rows: pages 1 to 4
    faults = f"{portal['url']}/sandbox/control/faults"
    source = history_source("kucoin")
    calls = []

    def fetch_recording(api, connection, kind, cursor):
        calls.append(cursor)
        if len(calls) == 3:  # the exchange fails from the third page on
            requests.post(faults, json={"exchange": "kucoin", "endpoint": "ledgers", "kind": "500"}).raise_for_status()
        return source.fetch_page(api, connection, kind, cursor)

    replace_history_fetch(monkeypatch, "kucoin", fetch_recording)
    with pytest.raises(ExchangeUnavailable):
        services.sync_connection_history(connection=connection, kinds=["ledger"])
    state = SyncState.objects.get(connection=connection, kind="ledger")
    assert state.resume_cursor == 3 and "error" in state.last_error
    assert HistoryEntry.objects.filter(connection=connection, kind="ledger").count() == 6

    requests.delete(faults).raise_for_status()
    assert services.sync_connection_history(connection=connection, kinds=["ledger"]) == {"ledger": 4}
    assert calls[3:] == [3, 4]  # resumed at page 3, not from the newest page
    state.refresh_from_db()
    assert state.resume_cursor is None and state.last_error == "" and state.last_synced_at


def test_beat_task_syncs_every_active_connection_with_a_key(connect, portal, monkeypatch):
    from connectors.models import ExchangeConnection
    from exports import tasks

    active = connect("kucoin")
    ExchangeConnection.objects.create(tenant=portal["tenant"], user=portal["user"], exchange="okx", status="revoked",
                                      api_key="gone")
    queued = []
    monkeypatch.setattr(tasks.sync_connection, "delay", lambda connection_id: queued.append(connection_id))
    tasks.sync_all_connections()
    assert queued == [active.pk]
    assert tasks.sync_connection(active.pk)["trade"] == 10  # the task itself: load, sync


def test_a_peatio_key_that_expired_is_renewed_and_the_sync_goes_on(connect):
    connection = connect("peatio")
    clock.set_offset(5 * 3600)  # past the user token's 4 hours
    try:
        added = services.sync_connection_history(connection=connection)
    finally:
        clock.set_offset(0)
    assert added == {kind: 10 for kind in KINDS["peatio"]}
    connection.refresh_from_db()
    assert connection.status == "active" and connection.last_refreshed_at


def test_stored_withdrawals_that_settle_at_the_exchange_are_updated_within_the_look_back(connect, monkeypatch):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    connection = connect("kucoin")
    monkeypatch.setattr("connectors.kucoin.history.PAGE_SIZE", 3)  # several pages
    user = sandbox_rows("kucoin", "withdrawal").first().user
    now = timezone.now()

    def withdrawal(txid, age, status):
        return HistoryRecord.objects.create(user=user, kind="withdrawal", txid=txid, time=now - age, currency="BTC",
                                            amount="0.5", fee="0.0005", fee_currency="BTC", status=status)

    # Newest first, pages of three: [settled x3] [failing, succeeding, settled] [settled, stale, seeded...]
    for hours in (1, 2, 3):
        withdrawal(f"Wsettled{hours}h", timedelta(hours=hours), "SUCCESS")
    failing = withdrawal("Wfailing", timedelta(days=1), "PROCESSING")
    succeeding = withdrawal("Wsucceeding", timedelta(days=2), "PROCESSING")
    for days in (3, 4):
        withdrawal(f"Wsettled{days}d", timedelta(days=days), "SUCCESS")
    stale = withdrawal("Wstale", timedelta(days=60), "PROCESSING")  # older than the look-back
    assert services.sync_connection_history(connection=connection, kinds=["withdrawal"]) == {"withdrawal": 18}

    HistoryRecord.objects.filter(pk=failing.pk).update(status="FAILURE")
    HistoryRecord.objects.filter(pk=succeeding.pk).update(status="SUCCESS", fee="0.0004")
    HistoryRecord.objects.filter(pk=stale.pk).update(status="FAILURE")
    source = history_source("kucoin")
    pages = []

    def fetch_recording(api, connection, kind, cursor):
        pages.append(cursor)
        return source.fetch_page(api, connection, kind, cursor)

    replace_history_fetch(monkeypatch, "kucoin", fetch_recording)
    assert services.sync_connection_history(connection=connection, kinds=["withdrawal"]) == {"withdrawal": 0}

    stored = {e.external_id: e for e in HistoryEntry.objects.filter(connection=connection, kind="withdrawal")}
    assert stored["Wfailing"].status == "FAILURE"
    assert (stored["Wsucceeding"].status, stored["Wsucceeding"].fee) == ("SUCCESS", Decimal("0.0004"))
    # The pass went back only as far as the oldest recent row still open, not to the stale one or further.
    assert pages == [None, 2] and stored["Wstale"].status == "PROCESSING"
    # Once everything recent is final, a pass stops at the newest row again.
    pages.clear()
    services.sync_connection_history(connection=connection, kinds=["withdrawal"])
    assert pages == [None]
