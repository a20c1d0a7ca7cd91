"""Kraken, by its spot REST spec (krakenfx/api-specs, spot-rest/openapi_v3.yaml and schemas/requests/user/…):
Ledgers and TradesHistory return 50 results a call, newest first, with the total ``count``; ``start`` (exclusive)
and ``end`` (inclusive) bound them in unix seconds, ``ofs`` pages. A pass fixes ``end`` at its start, so rows that
arrive meanwhile do not shift the offsets. DepositStatus and WithdrawStatus (schemas/requests/funding/*/recent.yaml)
take ``start``/``end`` and, with ``cursor=true``, answer a page and ``next_cursor`` (an older server, a list)."""

from connectors.base.api import ExchangeAPIError
from connectors.base.history import HistoryKind, HistorySource, Page, decimal, from_seconds, split_symbol
from connectors.base.http import ExchangeUnavailable
from connectors.kraken.client import ASSET_CODES

PAGED = {HistoryKind.LEDGER: ("Ledgers", "ledger"), HistoryKind.TRADE: ("TradesHistory", "trades")}
FUNDING = {HistoryKind.DEPOSIT: ("DepositStatus", "deposit"), HistoryKind.WITHDRAWAL: ("WithdrawStatus", "withdrawals")}
QUOTES = ("USDT", "USDC", "ZUSD", "USD", "ZEUR", "EUR", "XXBT", "XBT", "XETH", "ETH")
RATE_LIMITED = "EAPI:Rate limit exceeded"


def asset(code: str) -> str:
    return ASSET_CODES.get(code, code)


def call(api, connection, method, params):
    try:
        return api.private(connection, method, params)
    except ExchangeAPIError as error:
        # Kraken answers its rate limit as an error in an HTTP 200; the task waits and resumes.
        if RATE_LIMITED in str(error):
            raise ExchangeUnavailable("Kraken asks us to slow down.", retry_after=15) from error
        raise


def time_range(cursor) -> dict:
    # ``start`` is exclusive: one second earlier keeps a row at exactly ``since``.
    return {"start": str(cursor["since"] // 1000 - 1), "end": str(cursor["until"] // 1000)}


def fetch_page(api, connection, kind, cursor):
    if kind in PAGED:
        method, key = PAGED[kind]
        offset = cursor.get("ofs", 0)
        result = call(api, connection, method, {**time_range(cursor), "ofs": offset})
        rows = [{"id": row_id, **row} for row_id, row in (result.get(key) or {}).items()]
        following = offset + len(rows)
        more = rows and following < int(result.get("count") or 0)
        return Page(rows, {**cursor, "ofs": following} if more else None)
    method, key = FUNDING[kind]
    result = call(api, connection, method, {**time_range(cursor), "cursor": cursor.get("next") or "true"})
    if isinstance(result, list):
        return Page(result, None)
    rows = result.get(key) or next((value for value in result.values() if isinstance(value, list)), [])
    following = result.get("next_cursor") or None
    return Page(rows, {**cursor, "next": following} if following and rows else None)


def normalize(kind, item):
    when = from_seconds(item["time"])
    if kind == HistoryKind.LEDGER:
        return {
            "external_id": item["id"],
            "occurred_at": when,
            "entry_type": item.get("type", ""),
            "currency": asset(item["asset"]),
            "amount": decimal(item["amount"]),
            "fee": decimal(item.get("fee")),
            "fee_currency": asset(item["asset"]),
            "txid": item.get("refid", ""),
            "balance": decimal(item["balance"]) if item.get("balance") not in (None, "") else None,
        }
    if kind == HistoryKind.TRADE:
        base, quote = split_symbol(item["pair"], QUOTES)
        return {
            "external_id": item["id"],
            "occurred_at": when,
            "side": item["type"],
            "currency": asset(base),
            "amount": decimal(item["vol"]),
            "quote_currency": asset(quote),
            "quote_amount": decimal(item["cost"]),
            "price": decimal(item["price"]),
            "fee": decimal(item.get("fee")),
            "fee_currency": asset(quote),
        }
    return {
        "external_id": item["refid"],
        "occurred_at": when,
        "currency": asset(item["asset"]),
        "amount": decimal(item["amount"]),
        "fee": decimal(item.get("fee")),
        "fee_currency": asset(item["asset"]),
        "address": item.get("info", ""),
        "txid": item.get("txid", ""),
        "status": item.get("status", ""),
    }


# History calls cost two points of a counter that decays by about one point every three seconds.
# Funding statuses: Initial, Pending, Settled, Success, Failure (and Canceled, as the withdrawal tracking sees it).
SOURCE = HistorySource(
    "kraken",
    (*PAGED, *FUNDING),
    2.0,
    fetch_page,
    normalize,
    completed_statuses={kind: frozenset({"Success"}) for kind in FUNDING},
    final_statuses={kind: frozenset({"Success", "Failure", "Canceled"}) for kind in FUNDING},
    # Ledger types of a fill, a deposit and a withdrawal (level A: krakenfx/api-specs spot-rest
    # Ledgers, ``type``); "transfer" stays: Kraken credits airdrops and forks that way.
    ledger_repeats=frozenset({"trade", "deposit", "withdrawal"}),
)
