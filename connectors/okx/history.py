"""OKX: newest first, ``after`` asks for rows older than the cursor (a billId, or a ts in ms), ``limit`` ≤ 100.

Recent and archived rows are different endpoints (OKX's own okx/agent-trade-kit, docs/modules/account.md and
packages/core/src/tools/account.ts, contract-trade.ts): ``/api/v5/account/bills`` holds the last 7 days and
``/api/v5/account/bills-archive`` up to 3 months; ``/api/v5/trade/fills`` the last 3 days and
``/api/v5/trade/fills-history`` (``instType`` required) up to 3 months. A pass reads the recent endpoint, then goes on
in the archive from the last billId it saw. Deposit and withdrawal history (docs-v5, Funding account: Get deposit
history / Get withdrawal history) page by ``after`` = ts, ``limit`` ≤ 100, the 100 newest by default: "records
earlier than the requested ts", a timestamp and no row id, so rows of the same millisecond as a page's oldest can go on
past the page. The next page asks from that millisecond again (``after`` = its ts + 1) and drops the rows of it already
read, by their own id (depId, wdId).
"""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings

from connectors.base.history import HistoryKind, HistorySource, Page, decimal, from_ms, older_than_since

LIMIT = 100  # OKX's largest page
# kind -> the endpoints read in turn (recent, then archive), the extra query, the field the next cursor comes from
ENDPOINTS = {
    HistoryKind.TRADE: (("/api/v5/trade/fills", "/api/v5/trade/fills-history"), {"instType": "SPOT"}, "billId"),
    HistoryKind.DEPOSIT: (("/api/v5/asset/deposit-history",), {}, "ts"),
    HistoryKind.WITHDRAWAL: (("/api/v5/asset/withdrawal-history",), {}, "ts"),
    HistoryKind.LEDGER: (("/api/v5/account/bills", "/api/v5/account/bills-archive"), {}, "billId"),
}
ROW_IDS = {HistoryKind.DEPOSIT: "depId", HistoryKind.WITHDRAWAL: "wdId"}


def fetch_page(api, connection, kind, cursor):
    paths, extra, cursor_field = ENDPOINTS[kind]
    stage = cursor.get("stage", 0)
    after = cursor.get("after")
    query = {**extra, "limit": LIMIT, **({"after": after} if after else {})}
    items = api.signed(connection, "GET", f"{paths[stage]}?{urlencode(query)}") or []
    reached = older_than_since(cursor, [int(item["ts"]) for item in items])
    if cursor_field == "ts":
        return ts_page(kind, cursor, items, reached)
    if items and len(items) == LIMIT and not reached:
        return Page(items, {**cursor, "stage": stage, "after": items[-1][cursor_field]})
    if not reached and stage + 1 < len(paths):
        # The recent endpoint ends where its days end: the archive goes on from the oldest row seen.
        return Page(items, {**cursor, "stage": stage + 1, "after": items[-1][cursor_field] if items else after})
    return Page(items, None)


def ts_page(kind, cursor, items, reached):
    """A page of a ts cursor: the rows not read yet, and the cursor asking again from the oldest row's millisecond
    (``tied`` holds the ids read at it)."""
    row_id = ROW_IDS[kind]
    tied = set(cursor.get("tied", ()))
    fresh = [item for item in items if item[row_id] not in tied]
    if len(items) < LIMIT or reached:
        return Page(fresh, None)
    oldest = int(items[-1]["ts"])
    if int(items[0]["ts"]) == oldest and cursor.get("after") == oldest + 1:
        # A whole page inside one millisecond already asked from: no ts reaches its rows past this page. Go on below
        # it, and the pass claims completeness only above that millisecond.
        return Page(fresh, {**cursor, "after": oldest, "tied": []}, reach_ms=oldest + 1)
    at_oldest = {item[row_id] for item in items if int(item["ts"]) == oldest}
    return Page(fresh, {**cursor, "after": oldest + 1, "tied": sorted(at_oldest)})


def normalize(kind, item):
    when = from_ms(item["ts"])
    if kind == HistoryKind.TRADE:
        base, _, quote = item["instId"].partition("-")
        size, price = decimal(item["fillSz"]), decimal(item["fillPx"])
        # OKX signs fees: negative is charged, positive a rebate (kept as no fee).
        fee = -decimal(item.get("fee"))
        return {
            "external_id": item["tradeId"],
            "occurred_at": when,
            "side": item["side"],
            "currency": base,
            "amount": size,
            "quote_currency": quote,
            "quote_amount": price * size,
            "price": price,
            "fee": max(fee, 0),
            "fee_currency": item.get("feeCcy", ""),
        }
    if kind == HistoryKind.LEDGER:
        return {
            "external_id": item["billId"],
            "occurred_at": when,
            "entry_type": item.get("type", ""),
            "currency": item["ccy"],
            "amount": decimal(item["balChg"]),
            "fee": abs(decimal(item.get("fee"))),
            "fee_currency": item["ccy"],
            "balance": decimal(item["bal"]) if item.get("bal") else None,
        }
    external_id = item["depId"] if kind == HistoryKind.DEPOSIT else item["wdId"]
    return {
        "external_id": external_id,
        "occurred_at": when,
        "currency": item["ccy"],
        "amount": decimal(item["amt"]),
        "fee": decimal(item.get("fee")),
        "fee_currency": item["ccy"],
        "address": item.get("to", ""),
        "txid": item.get("txId", ""),
        "status": str(item.get("state", "")),
    }


# fills-history and bills: 10 requests per 2 s per user, the archive 5 per 2 s;
# deposit/withdrawal history: 6 per second.
# Numeric states, and a deposit's differ from a withdrawal's: deposit 0 waiting, 1 credited (not yet withdrawable),
# 2 successful, 8 and 11-14 held; withdrawal -3 cancelling, -2 cancelled, -1 failed, 2 successful, others on the way.
SOURCE = HistorySource(
    "okx",
    tuple(ENDPOINTS),
    0.4,
    fetch_page,
    normalize,
    completed_statuses={HistoryKind.DEPOSIT: frozenset({"2"}), HistoryKind.WITHDRAWAL: frozenset({"2"})},
    final_statuses={HistoryKind.DEPOSIT: frozenset({"2"}), HistoryKind.WITHDRAWAL: frozenset({"2", "-1", "-2"})},
    # The archives keep 3 months (okx/agent-trade-kit docs/modules/account.md, spot.md).
    kept_for={HistoryKind.TRADE: timedelta(days=90), HistoryKind.LEDGER: timedelta(days=90)},
    # Trading-account bill types that repeat what deposit-history, withdrawal-history and the fills hold: the
    # setting OKX_LEDGER_REPEAT_BILL_TYPES (level C, default 1 transfer and 2 trade; see settings/base.py).
    ledger_repeats=frozenset(settings.OKX_LEDGER_REPEAT_BILL_TYPES),
)
