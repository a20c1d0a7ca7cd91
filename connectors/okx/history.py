"""OKX: cursors, newest first; ``after`` asks for rows older than the cursor (a billId or a ts in ms)."""

from urllib.parse import urlencode


from connectors.base.history import HistoryKind, HistorySource, decimal, from_ms

LIMIT = 100  # OKX's largest page
# path, extra query, the field the next cursor is taken from
ENDPOINTS = {
    HistoryKind.TRADE: ("/api/v5/trade/fills-history", {"instType": "SPOT"}, "billId"),
    HistoryKind.DEPOSIT: ("/api/v5/asset/deposit-history", {}, "ts"),
    HistoryKind.WITHDRAWAL: ("/api/v5/asset/withdrawal-history", {}, "ts"),
    HistoryKind.LEDGER: ("/api/v5/account/bills", {}, "billId"),
}


def fetch_page(api, connection, kind, cursor):
    path, extra, cursor_field = ENDPOINTS[kind]
    query = {**extra, "limit": LIMIT, **({"after": cursor} if cursor else {})}
    items = api.signed(connection, "GET", f"{path}?{urlencode(query)}") or []
    return items, (items[-1][cursor_field] if len(items) == LIMIT else None)


def normalize(kind, item):
    when = from_ms(item["ts"])
    if kind == HistoryKind.TRADE:
        base, _, quote = item["instId"].partition("-")
        size, price = decimal(item["fillSz"]), decimal(item["fillPx"])
        # OKX signs fees: negative is charged, positive a rebate (kept as no fee).
        fee = -decimal(item.get("fee"))
        return {"external_id": item["tradeId"], "occurred_at": when, "side": item["side"], "currency": base,
                "amount": size, "quote_currency": quote, "quote_amount": price * size, "price": price,
                "fee": max(fee, 0), "fee_currency": item.get("feeCcy", "")}
    if kind == HistoryKind.LEDGER:
        return {"external_id": item["billId"], "occurred_at": when, "entry_type": item.get("type", ""),
                "currency": item["ccy"], "amount": decimal(item["balChg"]), "fee": abs(decimal(item.get("fee"))),
                "fee_currency": item["ccy"], "balance": decimal(item["bal"]) if item.get("bal") else None}
    external_id = item["depId"] if kind == HistoryKind.DEPOSIT else item["wdId"]
    return {"external_id": external_id, "occurred_at": when, "currency": item["ccy"], "amount": decimal(item["amt"]),
            "fee": decimal(item.get("fee")), "fee_currency": item["ccy"], "address": item.get("to", ""),
            "txid": item.get("txId", ""), "status": str(item.get("state", ""))}


# fills-history and bills: 10 requests per 2 s per user; deposit/withdrawal history: 6 per second.
# Numeric states, and a deposit's differ from a withdrawal's: deposit 0 waiting, 1 credited (not yet withdrawable),
# 2 successful, 8 and 11-14 held; withdrawal -3 cancelling, -2 cancelled, -1 failed, 2 successful, others on the way.
SOURCE = HistorySource(
    "okx", tuple(ENDPOINTS), 0.25, fetch_page, normalize,
    completed_statuses={HistoryKind.DEPOSIT: frozenset({"2"}), HistoryKind.WITHDRAWAL: frozenset({"2"})},
    final_statuses={HistoryKind.DEPOSIT: frozenset({"2"}), HistoryKind.WITHDRAWAL: frozenset({"2", "-1", "-2"})},
)
