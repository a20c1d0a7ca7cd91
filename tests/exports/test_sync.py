"""Syncing each exchange's history from the live sandbox: everything once, nothing twice, resuming after faults."""

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.db import connection as connection_db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectors.base.history import from_ms
from connectors.base.http import ExchangeUnavailable
from connectors.exchanges import exchange_packages, history_source
from exports.models import HistoryEntry, SyncState
from exports.services.sync import sync_connection_history
from sandbox import clock
from sandbox.models import HistoryRecord, SandboxUser


def replace_history_fetch(monkeypatch, exchange_id, fetch_page):
    """The exchange package's history source, reading its pages through ``fetch_page``."""
    package = exchange_packages()[exchange_id]
    monkeypatch.setitem(
        exchange_packages(),
        exchange_id,
        dataclasses.replace(package, history=dataclasses.replace(package.history, fetch_page=fetch_page)),
    )


pytestmark = pytest.mark.django_db(transaction=True)

KINDS = {
    "kucoin": {"trade", "deposit", "withdrawal", "ledger"},
    "okx": {"trade", "deposit", "withdrawal", "ledger"},
    "kraken": {"trade", "deposit", "withdrawal", "ledger"},
    # Peatio keeps no ledger, and no APIv2 version with OAuth had a withdrawals endpoint (hpyhacking/peatio).
    "peatio": {"trade", "deposit"},
}


def sandbox_rows(exchange_id, kind):
    user = SandboxUser.objects.get(exchange=exchange_id, email=f"trader@{exchange_id}.sandbox")
    return HistoryRecord.objects.filter(user=user, kind=kind)


def recording(monkeypatch, exchange_id, on_page=None):
    """Wrap the exchange module's fetch_page: returns the cursors it was called with, in order."""
    source = history_source(exchange_id)
    cursors = []

    def fetch_recording(api, connection, kind, cursor):
        cursors.append(cursor)
        if on_page:
            on_page(len(cursors))
        return source.fetch_page(api, connection, kind, cursor)

    replace_history_fetch(monkeypatch, exchange_id, fetch_recording)
    return cursors


@pytest.mark.parametrize("exchange_id", ["kucoin", "okx", "kraken", "peatio"])
def test_sync_imports_the_whole_history_and_a_second_sync_adds_nothing(connect, exchange_id, monkeypatch):
    """The seeded twelve weeks, every row: KuCoin walks week windows of fills (classic and HF), day windows of
    ledgers and windows per currency; OKX goes on from bills and fills to their archives; Peatio walks every market."""
    connection = connect(exchange_id)
    before = timezone.now()
    pages = recording(monkeypatch, exchange_id)
    with CaptureQueriesContext(connection_db) as queries:
        added = sync_connection_history(connection=connection)
    assert set(added) == KINDS[exchange_id]
    # Each page costs a bounded number of queries (read held ids, insert, update, save the state, token check).
    assert len(queries) <= 12 * len(pages) + 20, (len(queries), len(pages))
    for kind in KINDS[exchange_id]:
        expected = sandbox_rows(exchange_id, kind)
        assert added[kind] == expected.count() == 10
        stored = HistoryEntry.objects.filter(connection=connection, kind=kind)
        # Same moments and amounts as the exchange's own records (ledger amounts keep their sign).
        assert sorted((e.occurred_at, e.amount, e.currency) for e in stored) == sorted(
            (r.time, r.amount, r.currency) for r in expected
        )
        assert {e.tenant_id for e in stored} == {connection.tenant_id}
        state = SyncState.objects.get(connection=connection, kind=kind)
        # Complete from the history start (EXPORTS_HISTORY_DAYS = 100 in these tests, or what the exchange keeps:
        # OKX's archives, 3 months) to when the pass began.
        kept = history_source(exchange_id).kept_for.get(kind, timedelta(days=100))
        assert abs(state.covered_from - (before - min(kept, timedelta(days=100)))) < timedelta(minutes=1)
        assert before <= state.covered_to <= timezone.now() and state.resume_cursor is None
    assert sync_connection_history(connection=connection) == dict.fromkeys(KINDS[exchange_id], 0)
    assert HistoryEntry.objects.filter(connection=connection).count() == 10 * len(KINDS[exchange_id])


def test_trades_keep_both_sides_and_the_fee(connect):
    connection = connect("kucoin")
    sync_connection_history(connection=connection, kinds=["trade"])
    record = sandbox_rows("kucoin", "trade").order_by("time").first()
    entry = HistoryEntry.objects.get(connection=connection, kind="trade", external_id=record.txid)
    base, quote = record.pair.split("-")
    assert (entry.currency, entry.quote_currency, entry.side) == (base, quote, record.side)
    assert (entry.amount, entry.price, entry.fee, entry.fee_currency) == (
        record.amount,
        record.price,
        record.fee,
        record.fee_currency,
    )
    assert entry.quote_amount == record.price * record.amount


def test_new_rows_at_the_exchange_arrive_with_the_next_sync(connect):
    connection = connect("kucoin")
    sync_connection_history(connection=connection, kinds=["deposit"])
    state = SyncState.objects.get(connection=connection, kind="deposit")
    first_until = state.covered_to
    user = sandbox_rows("kucoin", "deposit").first().user
    # Rows made since the last pass (the old test put them a year ahead: no exchange lists the future).
    for offset in (1, 2, 3, 4):
        HistoryRecord.objects.create(
            user=user,
            kind="deposit",
            synthetic=False,
            txid=f"Dnew{offset}",
            time=timezone.now() - timedelta(seconds=offset),
            currency="BTC",
            amount="0.5",
            fee="0",
            fee_currency="BTC",
            status="SUCCESS",
            details={},
        )
    assert sync_connection_history(connection=connection, kinds=["deposit"]) == {"deposit": 4}
    assert HistoryEntry.objects.filter(connection=connection, kind="deposit").count() == 14
    state.refresh_from_db()
    assert state.covered_to > first_until and abs(
        state.covered_from - (timezone.now() - timedelta(days=100))
    ) < timedelta(minutes=1)


def test_a_failed_sync_resumes_at_the_page_it_stopped_on_and_covers_only_once_done(connect, portal, monkeypatch):
    connection = connect("kucoin")
    faults = f"{portal['url']}/sandbox/control/faults"

    def fail_from_the_fortieth(count):
        if count == 40:  # 40 of 100 daily ledger windows in, the exchange fails
            requests.post(faults, json={"exchange": "kucoin", "endpoint": "ledgers", "kind": "500"}).raise_for_status()

    cursors = recording(monkeypatch, "kucoin", fail_from_the_fortieth)
    with pytest.raises(ExchangeUnavailable):
        sync_connection_history(connection=connection, kinds=["ledger"])
    state = SyncState.objects.get(connection=connection, kind="ledger")
    assert state.resume_cursor == cursors[-1] and "error" in state.last_error
    # Half a pass proves nothing about the range: nothing is said to be complete yet.
    assert state.covered_from is None and state.covered_to is None
    held = HistoryEntry.objects.filter(connection=connection, kind="ledger").count()
    assert 0 < held < 10

    requests.delete(faults).raise_for_status()
    stopped_at = len(cursors)
    assert sync_connection_history(connection=connection, kinds=["ledger"]) == {"ledger": 10 - held}
    assert cursors[stopped_at] == cursors[stopped_at - 1]  # resumed at the window it failed on, not the newest
    # The rest of the daily windows, then the HF account's ledger in windows of 3 days.
    assert len(cursors) - stopped_at <= 100 - 39 + 1 + 34
    state.refresh_from_db()
    assert state.resume_cursor is None and state.last_error == "" and state.last_synced_at
    assert state.covered_to == from_ms(cursors[0]["until"])
    assert abs(state.covered_from - (state.covered_to - timedelta(days=100))) < timedelta(minutes=1)


def test_kucoin_asks_a_week_of_fills_and_a_day_of_ledgers_at_most(connect, monkeypatch):
    """The sandbox refuses longer ranges, as KuCoin does (the HF ledger answers the last 3 days instead); the windows
    also reach the whole range (no gap)."""
    connection = connect("kucoin")
    cursors = recording(monkeypatch, "kucoin")
    sync_connection_history(connection=connection, kinds=["ledger", "trade"])
    limits = {
        "/api/v1/fills": timedelta(days=7),
        "/api/v1/hf/fills": timedelta(days=7),
        "/api/v1/accounts/ledgers": timedelta(hours=24),
        "/api/v1/hf/accounts/ledgers": timedelta(hours=72),
    }
    for cursor in cursors:
        if "start" in cursor:
            limit = limits[cursor["streams"][cursor["stream"]]["path"]]
            assert cursor["end"] - cursor["start"] <= limit.total_seconds() * 1000
    paths = {stream["path"] for cursor in cursors if "streams" in cursor for stream in cursor["streams"]}
    assert paths == set(limits)
    hf = HistoryEntry.objects.filter(
        connection=connection,
        kind="trade",
        external_id__in=sandbox_rows("kucoin", "trade").filter(details__hf=True).values_list("txid", flat=True),
    )
    assert hf.count() == 5  # the HF account's fills, read symbol by symbol


def test_kucoin_hf_account_ledger_is_read_from_the_hf_endpoint_in_three_day_windows(connect, monkeypatch):
    """The classic ledger lists no TRADE_HF entries; the HF endpoint answers a longer range with the last 3 × 24 hours,
    so only windows of 3 days reach the older entries."""
    connection = connect("kucoin")
    user = sandbox_rows("kucoin", "ledger").first().user
    now = timezone.now()
    # Two hundred and five HF entries inside one window: two pages of the HF ledger's largest limit.
    HistoryRecord.objects.bulk_create(
        [
            HistoryRecord(
                user=user,
                kind="ledger",
                txid=f"Lhf{index}",
                time=now - timedelta(days=20, seconds=205 - index),
                currency="USDT",
                amount="1" if index % 3 else "-1",
                fee="0",
                fee_currency="USDT",
                balance_after="5",
                entry_type="TRADE_EXCHANGE",
                details={"hf": True},
            )
            for index in range(205)
        ]
    )
    hf_rows = sandbox_rows("kucoin", "ledger").filter(details__hf=True)
    cursors = recording(monkeypatch, "kucoin")
    assert sync_connection_history(connection=connection, kinds=["ledger"]) == {"ledger": 10 + 205}
    stored = HistoryEntry.objects.filter(connection=connection, kind="ledger")
    assert set(stored.values_list("external_id", flat=True)) >= {str(pk) for pk in hf_rows.values_list("pk", flat=True)}
    assert (
        stored.filter(external_id__in=[str(pk) for pk in hf_rows.values_list("pk", flat=True)], amount__lt=0).count()
        == hf_rows.filter(amount__lt=0).count()
    )
    hf_pages = [
        c for c in cursors if "start" in c and c["streams"][c["stream"]]["path"] == "/api/v1/hf/accounts/ledgers"
    ]
    assert any(c["last_id"] for c in hf_pages)  # the window of 205 entries was read in two pages
    state = SyncState.objects.get(connection=connection, kind="ledger")
    assert abs(state.covered_from - (state.covered_to - timedelta(days=100))) < timedelta(minutes=1)


def test_okx_deposits_sharing_a_millisecond_across_a_page_boundary_are_all_read(connect):
    """OKX's ``after`` is a ts ("records earlier than the requested ts"): rows of the oldest row's millisecond that
    did not fit on a page are read from that millisecond again, and the ones already read come once."""
    connection = connect("okx")
    user = sandbox_rows("okx", "deposit").first().user
    now = timezone.now().replace(microsecond=0)
    rows = [
        HistoryRecord(
            user=user,
            kind="deposit",
            txid=f"Dnew{index}",
            time=now - timedelta(seconds=index + 1),
            currency="USDT",
            amount="1",
            fee="0",
            fee_currency="USDT",
            status="SUCCESS",
        )
        for index in range(97)
    ]
    # Six deposits in one millisecond: the 98th to 103rd newest, across the first page's end at 100.
    tie = now - timedelta(seconds=200, microseconds=500)
    rows += [
        HistoryRecord(
            user=user,
            kind="deposit",
            txid=f"Dtie{index}",
            time=tie,
            currency="USDT",
            amount="2",
            fee="0",
            fee_currency="USDT",
            status="SUCCESS",
        )
        for index in range(6)
    ]
    HistoryRecord.objects.bulk_create(rows)
    assert sync_connection_history(connection=connection, kinds=["deposit"]) == {"deposit": 10 + 103}
    tied = HistoryRecord.objects.filter(user=user, txid__startswith="Dtie").values_list("pk", flat=True)
    stored = HistoryEntry.objects.filter(connection=connection, kind="deposit")
    assert stored.filter(external_id__in=[str(pk) for pk in tied]).count() == 6
    state = SyncState.objects.get(connection=connection, kind="deposit")
    assert abs(state.covered_from - (state.covered_to - timedelta(days=100))) < timedelta(minutes=1)


def test_okx_withdrawals_past_a_hundred_in_one_millisecond_end_the_pass_and_its_coverage_there(connect):
    """No ts reaches the rows of one millisecond past a hundred: the pass goes on below it, and does not say the
    range below is complete."""
    connection = connect("okx")
    user = sandbox_rows("okx", "withdrawal").first().user
    tie = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    HistoryRecord.objects.bulk_create(
        [
            HistoryRecord(
                user=user,
                kind="withdrawal",
                txid=f"Wtie{index}",
                time=tie,
                currency="USDT",
                amount="1",
                fee="0",
                fee_currency="USDT",
                status="SUCCESS",
            )
            for index in range(105)
        ]
    )
    assert sync_connection_history(connection=connection, kinds=["withdrawal"]) == {"withdrawal": 100 + 10}
    state = SyncState.objects.get(connection=connection, kind="withdrawal")
    assert state.covered_from == tie + timedelta(milliseconds=1) and state.resume_cursor is None


@pytest.mark.parametrize("exchange_id", ["kraken", "okx"])
def test_a_sync_walks_back_to_the_history_start_and_no_further(connect, exchange_id, settings):
    settings.EXPORTS_HISTORY_DAYS = 30
    connection = connect(exchange_id)
    sync_connection_history(connection=connection, kinds=["ledger"])
    cutoff = timezone.now() - timedelta(days=30)
    recent = sandbox_rows(exchange_id, "ledger").filter(time__gte=cutoff)
    stored = HistoryEntry.objects.filter(connection=connection, kind="ledger")
    assert set(recent.values_list("time", flat=True)) <= set(stored.values_list("occurred_at", flat=True))
    if exchange_id == "kraken":  # Kraken's start/end bound the pages exactly
        assert stored.count() == recent.count() < 10
    state = SyncState.objects.get(connection=connection, kind="ledger")
    assert abs(state.covered_from - cutoff) < timedelta(minutes=1)


def test_okx_reads_bills_older_than_seven_days_from_the_archive(connect, monkeypatch):
    connection = connect("okx")
    cursors = recording(monkeypatch, "okx")
    sync_connection_history(connection=connection, kinds=["ledger", "trade"])
    assert [cursor.get("stage", 0) for cursor in cursors] == [0, 1, 0, 1]  # recent, then archive, for each kind
    old = sandbox_rows("okx", "ledger").filter(time__lt=timezone.now() - timedelta(days=7))
    assert old.count() >= 8
    assert HistoryEntry.objects.filter(connection=connection, kind="ledger").count() == 10


def test_peatio_walks_every_market_and_never_asks_for_withdrawals(connect, portal):
    connection = connect("peatio")
    assert set(sync_connection_history(connection=connection)) == {"trade", "deposit"}
    assert HistoryEntry.objects.filter(connection=connection, kind="trade").count() == 10
    assert not SyncState.objects.filter(connection=connection, kind="withdrawal").exists()
    # The sandbox, like Peatio, has no such endpoint.
    assert requests.get(f"{portal['url']}/sandbox/peatio/api/v2/withdraws").status_code == 404


def test_peatio_deposits_past_what_the_exchange_lists_leave_a_visible_gap(connect):
    """APIv2 lists only the newest 100 deposits of a currency (and state): older ones cannot be read, and the
    coverage starts at the oldest one listed."""
    connection = connect("peatio")
    user = sandbox_rows("peatio", "deposit").first().user
    now = timezone.now().replace(microsecond=0)
    for index in range(120):
        HistoryRecord.objects.create(
            user=user,
            kind="deposit",
            txid=f"Dmany{index}",
            time=now - timedelta(hours=index + 1),
            currency="USDT",
            amount="1",
            fee="0",
            fee_currency="USDT",
            status="SUCCESS",
        )
    sync_connection_history(connection=connection, kinds=["deposit"])
    state = SyncState.objects.get(connection=connection, kind="deposit")
    # The hundredth newest accepted USDT deposit is the oldest the exchange lists.
    assert state.covered_from == now - timedelta(hours=100)
    # Older USDT deposits (the seeded ones) were not listed: the gap is real, and the state says where it ends.
    assert HistoryEntry.objects.filter(connection=connection, kind="deposit", currency="USDT").count() == 100


def test_beat_task_syncs_every_active_connection_with_a_key(connect, portal, celery_broker_tasks):
    from connectors.models import ExchangeConnection
    from exports import tasks

    active = connect("kucoin")
    ExchangeConnection.objects.create(
        tenant=portal["tenant"], user=portal["user"], exchange="okx", status="revoked", api_key="gone"
    )
    tasks.sync_all_connections()
    syncs = [task.args for task in celery_broker_tasks() if task.name == tasks.sync_connection.name]
    assert syncs == [[active.pk]]
    assert tasks.sync_connection(active.pk)["trade"] == 10  # the task itself: load, sync


def test_a_peatio_key_that_expired_is_renewed_and_the_sync_goes_on(connect):
    connection = connect("peatio")
    clock.set_offset(5 * 3600)  # past the user token's 4 hours
    try:
        added = sync_connection_history(connection=connection)
    finally:
        clock.set_offset(0)
    assert added == dict.fromkeys(KINDS["peatio"], 10)
    connection.refresh_from_db()
    assert connection.status == "active" and connection.last_refreshed_at


def test_stored_withdrawals_that_settle_at_the_exchange_are_updated_within_the_look_back(connect, monkeypatch):
    connection = connect("kucoin")
    user = sandbox_rows("kucoin", "withdrawal").first().user
    now = timezone.now()

    def withdrawal(txid, age, status):
        return HistoryRecord.objects.create(
            user=user,
            kind="withdrawal",
            txid=txid,
            time=now - age,
            currency="BTC",
            amount="0.5",
            fee="0.0005",
            fee_currency="BTC",
            status=status,
        )

    for hours in (1, 2, 3):
        withdrawal(f"Wsettled{hours}h", timedelta(hours=hours), "SUCCESS")
    failing = withdrawal("Wfailing", timedelta(days=1), "PROCESSING")
    succeeding = withdrawal("Wsucceeding", timedelta(days=2), "PROCESSING")
    for days in (3, 4):
        withdrawal(f"Wsettled{days}d", timedelta(days=days), "SUCCESS")
    stale = withdrawal("Wstale", timedelta(days=60), "PROCESSING")  # older than the look-back
    assert sync_connection_history(connection=connection, kinds=["withdrawal"]) == {"withdrawal": 18}

    HistoryRecord.objects.filter(pk=failing.pk).update(status="FAILURE")
    HistoryRecord.objects.filter(pk=succeeding.pk).update(status="SUCCESS", fee="0.0004")
    HistoryRecord.objects.filter(pk=stale.pk).update(status="FAILURE")
    cursors = recording(monkeypatch, "kucoin")
    assert sync_connection_history(connection=connection, kinds=["withdrawal"]) == {"withdrawal": 0}

    stored = {e.external_id: e for e in HistoryEntry.objects.filter(connection=connection, kind="withdrawal")}
    assert stored["Wfailing"].status == "FAILURE"
    assert (stored["Wsucceeding"].status, stored["Wsucceeding"].fee) == ("SUCCESS", Decimal("0.0004"))
    # The pass went back only as far as the oldest recent row still open, not to the stale one or further.
    assert from_ms(cursors[0]["since"]) == stored["Wsucceeding"].occurred_at.replace(
        microsecond=stored["Wsucceeding"].occurred_at.microsecond // 1000 * 1000
    )
    assert stored["Wstale"].status == "PROCESSING"
    # Once everything recent is final, a pass stops at the newest row again.
    cursors.clear()
    sync_connection_history(connection=connection, kinds=["withdrawal"])
    newest = max(entry.occurred_at for entry in stored.values())
    assert abs(from_ms(cursors[0]["since"]) - newest) < timedelta(milliseconds=1)


def test_the_sync_task_may_outlast_the_default_task_limit(settings):
    """A first sync walks a year of KuCoin's day windows: minutes of requests at the published rate."""
    from exports import tasks

    assert tasks.sync_connection.soft_time_limit >= 1800 > settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert tasks.sync_connection.time_limit > tasks.sync_connection.soft_time_limit


def test_a_broker_hears_of_a_pass_that_brings_rows_and_of_a_failure_once(connect, portal, monkeypatch):
    """history.synced for the first pass and for one with new rows, not for a pass that found nothing;
    history.sync_failed when the kind starts failing, not again on a retry; synced again once it recovers."""
    from webhooks.models import WebhookEndpoint, WebhookEvent

    connection = connect("kucoin")
    WebhookEndpoint.objects.create(
        tenant=connection.tenant,
        url="https://hooks.alpha.example/",
        secret="whsec_x",
        event_types=["history.synced", "history.sync_failed"],
    )

    def events():
        return [
            (event.type, event.payload.get("rows_added", event.payload.get("error", "")[:5]))
            for event in WebhookEvent.objects.order_by("pk")
        ]

    sync_connection_history(connection=connection, kinds=["deposit"])
    sync_connection_history(connection=connection, kinds=["deposit"])
    assert events() == [("history.synced", 10)]
    user = sandbox_rows("kucoin", "deposit").first().user
    HistoryRecord.objects.create(
        user=user,
        kind="deposit",
        synthetic=False,
        txid="Dnew",
        currency="BTC",
        time=timezone.now() - timedelta(seconds=1),
        amount="0.5",
        fee="0",
        fee_currency="BTC",
        status="SUCCESS",
        details={},
    )
    sync_connection_history(connection=connection, kinds=["deposit"])
    assert events()[1:] == [("history.synced", 1)]

    faults = f"{portal['url']}/sandbox/control/faults"
    requests.post(faults, json={"exchange": "kucoin", "endpoint": "deposits", "kind": "500"}).raise_for_status()
    for _ in range(2):
        with pytest.raises(ExchangeUnavailable):
            sync_connection_history(connection=connection, kinds=["deposit"])
    requests.delete(faults).raise_for_status()
    sync_connection_history(connection=connection, kinds=["deposit"])
    assert [kind for kind, _ in events()[2:]] == ["history.sync_failed", "history.synced"]
