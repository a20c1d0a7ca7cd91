"""Peatio APIv2 as it was while it had OAuth (hpyhacking/peatio before 2017-12-22: app/api/api_v2/trades.rb,
deposits.rb, markets.rb, named_params.rb, entities/). It keeps no ledger, and has no withdrawals endpoint.

- ``GET /api/v2/trades/my`` requires ``market`` (one of ``GET /api/v2/markets``), ``limit`` 1–1000, newest first by
  id; ``to`` = a trade id asks for older trades. A pass walks every market.
- ``GET /api/v2/deposits`` takes ``currency``, ``limit`` 1–100 and ``state``, and answers only the newest ones: no
  page, no time range. A pass asks per currency (from ``GET /api/v2/members/me``) and, where that list is full, per
  state; a list still full means older deposits cannot be read, and the pass says from when it holds them all.
"""

from connectors.base.history import (
    HistoryKind,
    HistorySource,
    Page,
    decimal,
    from_iso,
    older_than_since,
    split_symbol,
    to_ms,
)

TRADES_LIMIT = 1000
DEPOSITS_LIMIT = 100
# Deposit states (app/models/deposit.rb): submitting → submitted → accepted (credited) → checked or warning;
# submitting → cancelled (two l's), submitted → rejected.
DEPOSIT_STATES = ("submitting", "cancelled", "submitted", "rejected", "accepted", "checked", "warning")
PATHS = {HistoryKind.TRADE: "/api/v2/trades/my", HistoryKind.DEPOSIT: "/api/v2/deposits"}
QUOTES = ("USDT", "USDC", "USD", "EUR", "CNY", "BTC", "ETH")


def plan(api, connection, kind) -> list[dict]:
    if kind == HistoryKind.TRADE:
        return [{"market": market["id"]} for market in api.get(connection, "/api/v2/markets") or []]
    accounts = (api.get(connection, "/api/v2/members/me") or {}).get("accounts") or []
    return [{"currency": account["currency"]} for account in accounts]


def fetch_page(api, connection, kind, cursor):
    if "queries" not in cursor:
        cursor = {**cursor, "queries": plan(api, connection, kind)}
    if not cursor["queries"]:
        return Page([], None)
    query, rest = cursor["queries"][0], cursor["queries"][1:]
    following = {**cursor, "queries": rest} if rest else None
    if kind == HistoryKind.TRADE:
        params = {
            "market": query["market"],
            "limit": str(TRADES_LIMIT),
            "order_by": "desc",
            **({"to": str(query["to"])} if "to" in query else {}),
        }
        items = api.get(connection, PATHS[kind], params) or []
        reached = older_than_since(cursor, [to_ms(from_iso(item["created_at"])) for item in items])
        if len(items) == TRADES_LIMIT and not reached:
            following = {**cursor, "queries": [{**query, "to": min(int(item["id"]) for item in items)}, *rest]}
        return Page(items, following)
    items = api.get(connection, PATHS[kind], {**query, "limit": str(DEPOSITS_LIMIT)}) or []
    if len(items) < DEPOSITS_LIMIT:
        return Page(items, following)
    if "state" not in query:
        # The newest hundred of this currency: each state's newest hundred reach further back.
        by_state = [{**query, "state": state} for state in DEPOSIT_STATES]
        return Page(items, {**cursor, "queries": [*by_state, *rest]})
    # Still full: the deposits of this state older than its oldest listed are out of reach.
    return Page(items, following, reach_ms=min(to_ms(from_iso(item["created_at"])) for item in items))


def normalize(kind, item):
    when = from_iso(item["created_at"])
    if kind == HistoryKind.TRADE:
        base, quote = split_symbol(item["market"], QUOTES)
        # A trade carries no fee in APIv2 (entities/trade.rb); what the exchange charged is not reported.
        return {
            "external_id": str(item["id"]),
            "occurred_at": when,
            "side": "buy" if item["side"] == "bid" else "sell",
            "currency": base,
            "amount": decimal(item["volume"]),
            "quote_currency": quote,
            "quote_amount": decimal(item["funds"]),
            "price": decimal(item["price"]),
            "fee": decimal(item.get("fee")),
            "fee_currency": (item.get("fee_currency") or "").upper(),
        }
    currency = item["currency"].upper()
    return {
        "external_id": str(item["id"]),
        "occurred_at": when,
        "currency": currency,
        "amount": decimal(item["amount"]),
        "fee": decimal(item.get("fee")),
        "fee_currency": currency,
        "txid": item.get("txid") or "",
        "status": item.get("state", ""),
    }


# 6000 requests per key pair per 5 minutes: 20 a second.
# A deposit is credited when accepted (Deposit#do runs after_commit of accepted); checked and warning come after.
SOURCE = HistorySource(
    "peatio",
    tuple(PATHS),
    0.05,
    fetch_page,
    normalize,
    completed_statuses={HistoryKind.DEPOSIT: frozenset({"accepted", "checked", "warning"})},
    final_statuses={HistoryKind.DEPOSIT: frozenset({"accepted", "checked", "warning", "cancelled", "rejected"})},
)
