"""The history endpoints as the exchanges document them: ranges they refuse, archives, markets, real shapes.

Keys are made straight in the sandbox's tables (how a key is issued is tested elsewhere); the calls are plain HTTP."""

import base64
import secrets
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.exchanges import history_source
from sandbox.models import ApiKey, Client, HistoryRecord, SandboxUser, Token

from .support import KUCOIN_BROKER_NAME, kraken_private, kucoin_request, okx_request, peatio_get

pytestmark = pytest.mark.django_db(transaction=True)
DAY_MS = 24 * 3600 * 1000


def trader(exchange):
    return SandboxUser.objects.get(exchange=exchange, email=f"trader@{exchange}.sandbox")


def make_key(exchange, **fields):
    # KuCoin checks every call's KC-BROKER-NAME against the name it issued with the partner id.
    client = Client.objects.create(
        exchange=exchange,
        client_id=f"{exchange}-history",
        client_secret="broker-secret",
        broker_name=KUCOIN_BROKER_NAME if exchange == "kucoin" else "",
    )
    return ApiKey.objects.create(
        exchange=exchange, user=trader(exchange), client=client, name="history", created_at=timezone.now(), **fields
    )


@pytest.fixture
def kucoin(base, accounts):
    key = make_key(
        "kucoin",
        api_key=secrets.token_hex(12),
        secret=secrets.token_hex(16),
        passphrase="pass",
        version="3",
        permissions=["API_COMMON"],
    )
    credentials = {
        "apiKey": key.api_key,
        "secret": key.secret,
        "passphrase": key.passphrase,
        "brokerId": key.client.client_id,
    }
    return lambda path: kucoin_request(base + "/kucoin", credentials, "broker-secret", "GET", path).json()


@pytest.fixture
def okx(base, accounts):
    key = make_key(
        "okx",
        api_key=secrets.token_hex(12),
        secret=secrets.token_hex(16),
        passphrase="Pass#word1",
        permissions=["read_only"],
    )
    credentials = {"apiKey": key.api_key, "secretKey": key.secret, "passphrase": key.passphrase}
    return lambda path: okx_request(base + "/okx", credentials, "GET", path).json()


@pytest.fixture
def kraken(base, accounts):
    key = make_key(
        "kraken",
        api_key=base64.b64encode(secrets.token_bytes(20)).decode(),
        secret=base64.b64encode(secrets.token_bytes(64)).decode(),
        permissions=["funds_query", "ledger_query", "trades_query_closed"],
    )
    credentials = {"api_key": key.api_key, "secret": key.secret}
    return lambda method, params=None: kraken_private(base + "/kraken", credentials, method, params).json()


@pytest.fixture
def peatio(base, accounts):
    client = Client.objects.create(exchange="peatio", client_id="peatio-history", client_secret="s")
    now = timezone.now()
    token = Token.objects.create(
        family="f",
        client=client,
        user=trader("peatio"),
        scopes=["profile", "history"],
        access_token=secrets.token_hex(10),
        access_secret=secrets.token_hex(10),
        refresh_token=secrets.token_hex(10),
        access_expires_at=now + timedelta(hours=4),
        refresh_expires_at=now + timedelta(days=1),
        created_at=now,
    )
    return lambda path, params=None: peatio_get(base + "/peatio", token.access_token, token.access_secret, path, params)


def now_ms():
    return int(time.time() * 1000)


def test_seeded_history_spans_months_up_to_now(accounts):
    times = HistoryRecord.objects.filter(user=trader("kucoin"), kind="ledger").values_list("time", flat=True)
    assert timezone.now() - min(times) > timedelta(days=80) and timezone.now() - max(times) < timedelta(days=10)


def test_kucoin_fills_take_a_week_ledgers_a_day(kucoin):
    end = now_ms()
    refused = kucoin(f"/api/v1/fills?startAt={end - 8 * DAY_MS}&endAt={end}")
    assert refused["code"] == "400100"
    assert kucoin(f"/api/v1/accounts/ledgers?startAt={end - DAY_MS - 1}&endAt={end}")["code"] == "400100"
    # No range: fills of the last day only, not the whole history.
    last_day = kucoin("/api/v1/fills")["data"]["items"]
    assert all(item["createdAt"] >= end - DAY_MS - 60_000 for item in last_day)
    week = kucoin(f"/api/v1/fills?startAt={end - 7 * DAY_MS}&endAt={end}")
    assert week["code"] == "200000" and set(week["data"]) == {
        "currentPage",
        "pageSize",
        "totalNum",
        "totalPage",
        "items",
    }
    # Only a start: the week after it.
    start = end - 30 * DAY_MS
    items = kucoin(f"/api/v1/accounts/ledgers?startAt={start}")["data"]["items"]
    assert all(start <= item["createdAt"] <= start + DAY_MS for item in items)


def test_kucoin_ledgers_keep_one_year(kucoin, accounts):
    old = timezone.now() - timedelta(days=400)
    HistoryRecord.objects.create(
        user=trader("kucoin"),
        kind="ledger",
        txid="Lold",
        time=old,
        currency="BTC",
        amount="1",
        fee="0",
        fee_currency="BTC",
        balance_after="1",
        entry_type="deposit",
    )
    start = int(old.timestamp() * 1000) - 1000
    assert kucoin(f"/api/v1/accounts/ledgers?startAt={start}&endAt={start + DAY_MS}")["data"]["items"] == []


def test_kucoin_funding_history_needs_a_currency_and_filters_status(kucoin):
    assert kucoin("/api/v1/deposits")["code"] == "400100"
    everything = kucoin("/api/v1/deposits?currency=BTC&pageSize=100")["data"]
    expected = HistoryRecord.objects.filter(user=trader("kucoin"), kind="deposit", currency="BTC").count()
    assert everything["totalNum"] == expected
    assert kucoin("/api/v1/deposits?currency=BTC&status=FAILURE")["data"]["totalNum"] == 0


def test_kucoin_hf_fills_need_a_symbol_and_page_by_last_id(kucoin):
    assert kucoin("/api/v1/hf/accounts/opened")["data"] is True
    assert kucoin("/api/v1/hf/fills")["code"] == "400100"
    symbols = {item["symbol"] for item in kucoin("/api/v2/symbols")["data"]}
    assert {"BTC-USDT", "ETH-BTC"} <= symbols
    hf = HistoryRecord.objects.filter(user=trader("kucoin"), kind="trade", details__hf=True)
    seen = []
    for symbol in symbols:
        answer = kucoin(f"/api/v1/hf/fills?symbol={symbol}&limit=1")["data"]
        while answer["items"]:
            seen += [item["tradeId"] for item in answer["items"]]
            answer = kucoin(f"/api/v1/hf/fills?symbol={symbol}&limit=1&lastId={answer['lastId']}")["data"]
    assert sorted(seen) == sorted(hf.values_list("txid", flat=True)) and len(seen) == 15
    # The classic endpoint does not list them.
    end = now_ms()
    classic = []
    for week in range(13):
        classic += kucoin(
            f"/api/v1/fills?startAt={end - (week + 1) * 7 * DAY_MS}&endAt={end - week * 7 * DAY_MS}&pageSize=500"
        )["data"]["items"]
    assert {item["tradeId"] for item in classic}.isdisjoint(seen) and len({i["tradeId"] for i in classic}) == 15


def test_okx_bills_hold_seven_days_and_the_archive_three_months(okx):
    bills = okx("/api/v5/account/bills")["data"]
    archive = okx("/api/v5/account/bills-archive")["data"]
    week_ago = now_ms() - 7 * DAY_MS
    assert all(int(bill["ts"]) >= week_ago for bill in bills) and len(bills) < 30
    assert len(archive) == 30 and {bill["billId"] for bill in bills} <= {bill["billId"] for bill in archive}
    older = okx(f"/api/v5/account/bills-archive?after={archive[9]['billId']}&limit=5")["data"]
    assert [bill["billId"] for bill in older] == [bill["billId"] for bill in archive[10:15]]
    HistoryRecord.objects.create(
        user=trader("okx"),
        kind="ledger",
        txid="Lold",
        time=timezone.now() - timedelta(days=100),
        currency="BTC",
        amount="1",
        fee="0",
        fee_currency="BTC",
        balance_after="1",
    )
    assert len(okx("/api/v5/account/bills-archive")["data"]) == 30  # beyond 3 months: gone
    recent = okx("/api/v5/trade/fills?instType=SPOT")["data"]
    assert all(int(fill["ts"]) >= now_ms() - 3 * DAY_MS for fill in recent)
    assert okx("/api/v5/trade/fills-history")["code"] == "51000"


def test_kraken_ledgers_pages_of_fifty_within_start_and_end(kraken):
    user = trader("kraken")
    now = timezone.now().replace(microsecond=0)
    for index in range(70):
        HistoryRecord.objects.create(
            user=user,
            kind="ledger",
            txid=f"Lmany{index}",
            time=now - timedelta(minutes=index + 1),
            currency="BTC",
            amount="1",
            fee="0",
            fee_currency="BTC",
            balance_after="1",
            entry_type="deposit",
        )
    first = kraken("Ledgers", {"ofs": 0, "limit": 500})["result"]
    assert first["count"] == 100 and len(first["ledger"]) == 50  # never more than 50 a call
    start = int((now - timedelta(minutes=30)).timestamp())
    window = kraken("Ledgers", {"start": start, "end": int(now.timestamp())})["result"]
    assert window["count"] == 29  # start exclusive: minutes 1 to 29
    assert kraken("Ledgers", {"start": "yesterday"})["error"] == ["EGeneral:Invalid arguments"]
    trades = kraken("TradesHistory", {"ofs": 20})["result"]
    assert trades["count"] == 30 and len(trades["trades"]) == 10


def test_kraken_funding_status_pages_with_a_cursor(kraken):
    first = kraken("DepositStatus", {"cursor": "true", "limit": 20})["result"]
    assert len(first["deposit"]) == 20 and first["next_cursor"]
    rest = kraken("DepositStatus", {"cursor": first["next_cursor"], "limit": 20})["result"]
    assert len(rest["deposit"]) == 10 and rest["next_cursor"] is None
    refids = {item["refid"] for item in first["deposit"] + rest["deposit"]}
    assert len(refids) == 30
    assert isinstance(kraken("WithdrawStatus")["result"], list)  # without cursor: the list


def test_peatio_trades_need_a_market_and_page_by_trade_id(peatio):
    missing = peatio("/api/v2/trades/my")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 1001
    assert peatio("/api/v2/trades/my", {"market": "dogeusdt"}).json()["error"]["code"] == 1001
    assert peatio("/api/v2/trades/my", {"market": "btcusdt", "limit": "1001"}).json()["error"]["code"] == 1001
    markets = [market["id"] for market in peatio("/api/v2/markets").json()]
    seen = []
    for market in markets:
        page = peatio("/api/v2/trades/my", {"market": market, "limit": "2"}).json()
        while page:
            assert set(page[0]) == {"id", "price", "volume", "funds", "market", "created_at", "side", "order_id"}
            seen += [trade["id"] for trade in page]
            page = peatio("/api/v2/trades/my", {"market": market, "limit": "2", "to": str(page[-1]["id"])}).json()
    assert len(seen) == len(set(seen)) == 30


def test_peatio_deposits_take_currency_limit_state_and_withdraws_do_not_exist(peatio):
    assert len(peatio("/api/v2/deposits").json()) == 3  # the default limit
    assert peatio("/api/v2/deposits", {"limit": "101"}).json()["error"]["code"] == 1001
    assert peatio("/api/v2/deposits", {"state": "canceled"}).json()["error"]["code"] == 1001  # "cancelled"
    assert peatio("/api/v2/deposits", {"state": "cancelled"}).json() == []
    usdt = peatio("/api/v2/deposits", {"currency": "usdt", "limit": "100"}).json()
    assert {deposit["currency"] for deposit in usdt} <= {"usdt"} and all(d["state"] == "accepted" for d in usdt)
    assert peatio("/api/v2/withdraws").status_code == 404  # no version with OAuth had one


def test_kucoin_hf_ledger_pages_by_last_id_within_three_days(kucoin):
    """Get Account Ledgers - Trade_hf: a list, newest first, lastId pages, limit ≤ 200, and a range longer than 3 × 24
    hours answered with the last 3 × 24 hours (KuCoin does not refuse it)."""
    user = trader("kucoin")
    now = timezone.now()
    HistoryRecord.objects.bulk_create(
        [
            HistoryRecord(
                user=user,
                kind="ledger",
                txid=f"Lhf{index}",
                time=now - timedelta(days=10, seconds=250 - index),
                currency="BTC" if index % 2 else "USDT",
                amount="1" if index % 3 else "-1",
                fee="0",
                fee_currency="BTC",
                balance_after="1",
                entry_type="TRADE_EXCHANGE",
                details={"hf": True},
            )
            for index in range(250)
        ]
    )
    start = now_ms() - 10 * DAY_MS - 3600_000
    window = f"startAt={start}&endAt={start + 2 * 3600_000}"
    first = kucoin(f"/api/v1/hf/accounts/ledgers?{window}&limit=500")["data"]
    assert len(first) == 200 and first[0]["accountType"] == "TRADE_HF" and isinstance(first[0]["createdAt"], str)
    assert [int(item["createdAt"]) for item in first] == sorted(
        (int(item["createdAt"]) for item in first), reverse=True
    )
    rest = kucoin(f"/api/v1/hf/accounts/ledgers?{window}&limit=200&lastId={first[-1]['id']}")["data"]
    assert len(rest) == 50 and {item["id"] for item in rest}.isdisjoint(item["id"] for item in first)
    usdt_out = kucoin(f"/api/v1/hf/accounts/ledgers?{window}&currency=USDT&direction=out&limit=200")["data"]
    assert usdt_out and all(item["currency"] == "USDT" and item["direction"] == "out" for item in usdt_out)
    # Over 3 × 24 hours: not refused, but read as the last 3 × 24 hours, where none of these entries are.
    longer = kucoin(f"/api/v1/hf/accounts/ledgers?startAt={start}&endAt={start + 3 * DAY_MS + 1}")
    assert longer["code"] == "200000"
    assert all(int(item["createdAt"]) >= now_ms() - 3 * DAY_MS - 60_000 for item in longer["data"])
    # The classic ledger lists no TRADE_HF entries.
    # One reading of the clock: two could put the range a millisecond over the 24 hours the classic ledger takes.
    ten_days_ago = now_ms() - 10 * DAY_MS
    classic = kucoin(
        f"/api/v1/accounts/ledgers?startAt={ten_days_ago - DAY_MS // 2}&endAt={ten_days_ago + DAY_MS // 2}&pageSize=500"
    )["data"]["items"]
    assert not {item["id"] for item in classic} & {f"Lhf{index}" for index in range(250)}


def test_okx_deposit_history_after_is_a_ts_and_excludes_that_millisecond(okx):
    user = trader("okx")
    moment = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    for index in range(3):
        HistoryRecord.objects.create(
            user=user,
            kind="deposit",
            txid=f"Dtie{index}",
            time=moment,
            currency="USDT",
            amount="1",
            fee="0",
            fee_currency="USDT",
            status="SUCCESS",
        )
    ts = int(moment.timestamp() * 1000)
    newest = okx("/api/v5/asset/deposit-history?limit=2")["data"]
    assert [item["ts"] for item in newest] == [str(ts), str(ts)]
    # "records earlier than the requested ts": the third deposit of that millisecond is not after=ts's.
    assert all(int(item["ts"]) < ts for item in okx(f"/api/v5/asset/deposit-history?after={ts}")["data"])
    assert (
        len([item for item in okx(f"/api/v5/asset/deposit-history?after={ts + 1}")["data"] if item["ts"] == str(ts)])
        == 3
    )


def test_ledger_types_are_spelled_as_each_exchange_spells_them(kucoin, okx):
    """KuCoin's main ledger: Deposit, Trade_Exchange, Withdrawal; its HF ledger: TRANSFER, TRADE_EXCHANGE (and the
    bizType filter in its own words); OKX's bills: 1 (transfer), 2 (trade). A fee entry keeps the sandbox's word."""
    now = timezone.now() - timedelta(minutes=5)
    for exchange in ("kucoin", "okx"):
        HistoryRecord.objects.bulk_create(
            [
                HistoryRecord(
                    user=trader(exchange),
                    kind="ledger",
                    txid=f"Lspell{exchange}{n}",
                    time=now,
                    currency="BTC",
                    amount=amount,
                    fee="0",
                    fee_currency="BTC",
                    balance_after="1",
                    entry_type=entry_type,
                    details={"hf": True} if hf else {},
                )
                for n, (entry_type, amount, hf) in enumerate(
                    [
                        ("deposit", "1", False),
                        ("trade", "-1", False),
                        ("withdrawal", "-1", False),
                        ("fee", "-1", False),
                        ("trade", "1", True),
                        ("deposit", "1", True),
                    ]
                )
            ]
        )
    start, end = int(now.timestamp() * 1000) - 1000, int(now.timestamp() * 1000) + 1000
    main = kucoin(f"/api/v1/accounts/ledgers?startAt={start}&endAt={end}")["data"]["items"]
    assert sorted(item["bizType"] for item in main) == ["Deposit", "Trade_Exchange", "Withdrawal", "fee"]
    hf = kucoin(f"/api/v1/hf/accounts/ledgers?startAt={start}&endAt={end}")
    assert sorted(item["bizType"] for item in hf["data"]) == ["TRADE_EXCHANGE", "TRANSFER"]
    only = kucoin(f"/api/v1/hf/accounts/ledgers?startAt={start}&endAt={end}&bizType=TRANSFER")["data"]
    assert [item["bizType"] for item in only] == ["TRANSFER"]
    bills = okx(f"/api/v5/account/bills?begin={start}&end={end}")["data"]
    assert sorted(item["type"] for item in bills if item["billId"]) == ["1", "1", "1", "2", "2", "fee"]
    # The portal's history sources read these spellings as repeats of the deposit, withdrawal and fill rows.
    assert {item["bizType"] for item in main + hf["data"]} - {"fee"} <= history_source("kucoin").ledger_repeats
    assert {item["type"] for item in bills} - {"fee"} == history_source("okx").ledger_repeats == {"1", "2"}
