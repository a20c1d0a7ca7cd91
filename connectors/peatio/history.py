"""Peatio APIv2: ``page``/``limit`` pages, newest first, answering a bare list (a short page is the last).
It keeps no ledger."""


from connectors.base.history import HistoryKind, HistorySource, decimal, from_iso, split_symbol

LIMIT = 1000  # the largest limit APIv2 accepts
PATHS = {HistoryKind.TRADE: "/api/v2/trades/my", HistoryKind.DEPOSIT: "/api/v2/deposits",
         HistoryKind.WITHDRAWAL: "/api/v2/withdraws"}
QUOTES = ("USDT", "USDC", "USD", "EUR", "BTC", "ETH")


def fetch_page(api, connection, kind, cursor):
    page = cursor or 1
    items = api.get(connection, PATHS[kind], {"page": str(page), "limit": str(LIMIT)}) or []
    return items, (page + 1 if len(items) == LIMIT else None)


def normalize(kind, item):
    when = from_iso(item["created_at"])
    if kind == HistoryKind.TRADE:
        base, quote = split_symbol(item["market"], QUOTES)
        return {"external_id": str(item["id"]), "occurred_at": when, "side": "buy" if item["side"] == "bid" else "sell",
                "currency": base, "amount": decimal(item["volume"]), "quote_currency": quote,
                "quote_amount": decimal(item["funds"]), "price": decimal(item["price"]),
                "fee": decimal(item.get("fee")), "fee_currency": (item.get("fee_currency") or "").upper()}
    currency = item["currency"].upper()
    return {"external_id": str(item["id"]), "occurred_at": when, "currency": currency, "amount": decimal(item["amount"]),
            "fee": decimal(item.get("fee")), "fee_currency": currency, "address": item.get("rid", ""),
            "txid": item.get("txid") or "", "status": item.get("state", "")}


# 6000 requests per key pair per 5 minutes: 20 a second.
# A deposit is credited when accepted; collecting it to the hot wallet afterwards (processing, fee_processing,
# then collected or skipped) does not change the user's balance. A withdrawal has moved only once it succeeded.
SOURCE = HistorySource(
    "peatio", tuple(PATHS), 0.05, fetch_page, normalize,
    completed_statuses={
        HistoryKind.DEPOSIT: frozenset({"accepted", "processing", "fee_processing", "collected", "skipped"}),
        HistoryKind.WITHDRAWAL: frozenset({"succeed"}),
    },
    final_statuses={
        HistoryKind.DEPOSIT: frozenset({"collected", "skipped", "canceled", "rejected", "refunded"}),
        HistoryKind.WITHDRAWAL: frozenset({"succeed", "canceled", "rejected", "failed"}),
    },
)
