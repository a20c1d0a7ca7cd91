"""KuCoin: every history endpoint answers a bounded time range, so a pass walks windows back from its ``until`` to
its ``since``, paging within each window (KuCoin's API docs, Kucoin/kucoin-api-docs source/localizable/index.html.md,
and the universal SDK's spec, Kucoin/kucoin-universal-sdk spec/rest/api/*.json).

- Fills ``GET /api/v1/fills``: at most one week per request (the last day by default), ``currentPage``/``pageSize``.
- High-frequency (Pro) accounts trade through the HF endpoints, whose fills are only in ``GET /api/v1/hf/fills``:
  ``symbol`` required, ``limit`` ≤ 100, older pages by ``lastId``. Whether the account is one answers
  ``GET /api/v1/hf/accounts/opened``; the symbols are those of ``GET /api/v2/symbols`` whose two currencies the account
  holds (``GET /api/v1/accounts``: KuCoin keeps an account per currency the user ever had).
- Ledgers ``GET /api/v1/accounts/ledgers``: at most 24 hours per request, one year kept. Its rows are those of the
  MAIN, TRADE, MARGIN and CONTRACT accounts (SDK spec openapi-account-account.json): an HF account's own ledger is
  only in ``GET /api/v1/hf/accounts/ledgers`` ("Get Account Ledgers - Trade_hf": ``limit`` ≤ 200, newest first by
  createdAt and id, ``lastId`` = rows with a smaller id; a range beyond 3 × 24 hours is not refused but answered
  with the last 3 × 24 hours instead, Kucoin/kucoin-api-docs-hf source/localizable/index.html.md), so a pass walks
  it in windows of 3 × 24 hours at most.
- Deposits and withdrawals ``GET /api/v1/deposits`` / ``/api/v1/withdrawals``: ``currency`` (required in the SDK's
  spec), ``status``, ``startAt``, ``endAt``, paging; a range cap is not documented (see FUNDING_WINDOW).
"""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings

from connectors.base.history import HistoryKind, HistorySource, Page, decimal, from_ms, next_window, window_before

PAGE_SIZE = 500  # the largest pageSize KuCoin accepts
HF_LIMIT = 100  # the largest limit of /api/v1/hf/fills
HF_LEDGER_LIMIT = 200  # "Default100, Max200"
FILLS_WINDOW = timedelta(days=7)
LEDGER_WINDOW = timedelta(hours=24)
HF_LEDGER_WINDOW = timedelta(hours=3 * 24)
PATHS = {
    HistoryKind.TRADE: "/api/v1/fills",
    HistoryKind.DEPOSIT: "/api/v1/deposits",
    HistoryKind.WITHDRAWAL: "/api/v1/withdrawals",
    HistoryKind.LEDGER: "/api/v1/accounts/ledgers",
}
HF_FILLS = "/api/v1/hf/fills"
HF_LEDGERS = "/api/v1/hf/accounts/ledgers"
FUNDING = (HistoryKind.DEPOSIT, HistoryKind.WITHDRAWAL)


def funding_window() -> timedelta:
    """Level C: KuCoin's documents give deposits and withdrawals no range cap; 30 days per request is our choice,
    a setting (EXPORTS_KUCOIN_FUNDING_WINDOW_DAYS) so it can follow the exchange if it refuses more."""
    return timedelta(days=settings.EXPORTS_KUCOIN_FUNDING_WINDOW_DAYS)


def get(api, connection, path, query):
    return api.signed(connection, "GET", f"{path}?{urlencode(query)}" if query else path)


def account_currencies(api, connection) -> list[str]:
    return sorted({item["currency"] for item in get(api, connection, "/api/v1/accounts", {}) or []})


def is_hf_account(api, connection) -> bool:
    return bool(get(api, connection, "/api/v1/hf/accounts/opened", {}))


def hf_symbols(api, connection) -> list[str]:
    """The symbols an HF account can have traded: both currencies among the account's."""
    if not is_hf_account(api, connection):
        return []
    held = set(account_currencies(api, connection))
    return sorted(
        item["symbol"]
        for item in get(api, connection, "/api/v2/symbols", {}) or []
        if item.get("baseCurrency") in held and item.get("quoteCurrency") in held
    )


def streams(api, connection, kind) -> list[dict]:
    """What one pass walks, each stream over the whole range: a path (and its currency or symbol)."""
    if kind == HistoryKind.TRADE:
        return [{"path": PATHS[kind]}] + [
            {"path": HF_FILLS, "symbol": symbol} for symbol in hf_symbols(api, connection)
        ]
    if kind in FUNDING:
        return [{"path": PATHS[kind], "currency": code} for code in account_currencies(api, connection)]
    return [{"path": PATHS[kind]}] + ([{"path": HF_LEDGERS}] if is_hf_account(api, connection) else [])


def window_span(stream: dict, kind: str) -> timedelta:
    if kind in FUNDING:
        return funding_window()
    if stream["path"] == HF_LEDGERS:
        return HF_LEDGER_WINDOW
    return LEDGER_WINDOW if kind == HistoryKind.LEDGER else FILLS_WINDOW


def fetch_page(api, connection, kind, cursor):
    if "streams" not in cursor:
        cursor = {**cursor, "streams": streams(api, connection, kind), "stream": 0}
        if not cursor["streams"]:
            return Page([], None)
    stream = cursor["streams"][cursor["stream"]]
    if "start" not in cursor:
        cursor = next_window(cursor, window_span(stream, kind), page=1, last_id=None)
    query = {key: stream[key] for key in ("currency", "symbol") if key in stream}
    query.update(startAt=cursor["start"], endAt=cursor["end"])
    if stream["path"] in (HF_FILLS, HF_LEDGERS):
        limit = HF_LIMIT if stream["path"] == HF_FILLS else HF_LEDGER_LIMIT
        query["limit"] = limit
        if cursor["last_id"] is not None:
            query["lastId"] = cursor["last_id"]
        data = get(api, connection, stream["path"], query)
        # The fills answer {items, lastId}; the ledger a list, whose last row's id asks for the older ones.
        if stream["path"] == HF_FILLS:
            items, last_id = (data or {}).get("items") or [], (data or {}).get("lastId")
        else:
            items = data or []
            last_id = items[-1]["id"] if items else None
        more = len(items) == limit and last_id not in (None, cursor["last_id"])
        following = {**cursor, "last_id": last_id} if more else None
    else:
        query.update(currentPage=cursor["page"], pageSize=PAGE_SIZE)
        data = get(api, connection, stream["path"], query) or {}
        items = data.get("items") or []
        more = cursor["page"] < int(data.get("totalPage") or 0)
        following = {**cursor, "page": cursor["page"] + 1} if more else None
    if following is None:
        following = window_before(cursor, page=1, last_id=None)
    if following is None and cursor["stream"] + 1 < len(cursor["streams"]):
        following = {key: value for key, value in cursor.items() if key not in ("start", "end")}
        following["stream"] = cursor["stream"] + 1
    return Page(items, following)


def normalize(kind, item):
    when = from_ms(item["createdAt"])
    if kind == HistoryKind.TRADE:
        base, _, quote = item["symbol"].partition("-")
        return {
            "external_id": str(item["tradeId"]),
            "occurred_at": when,
            "side": item["side"],
            "currency": base,
            "amount": decimal(item["size"]),
            "quote_currency": quote,
            "quote_amount": decimal(item["funds"]),
            "price": decimal(item["price"]),
            "fee": decimal(item["fee"]),
            "fee_currency": item["feeCurrency"],
        }
    if kind == HistoryKind.LEDGER:
        amount = decimal(item["amount"])
        return {
            "external_id": item["id"],
            "occurred_at": when,
            "entry_type": item.get("bizType", ""),
            "currency": item["currency"],
            "amount": -amount if item.get("direction") == "out" else amount,
            "fee": decimal(item.get("fee")),
            "fee_currency": item["currency"],
            "balance": decimal(item["balance"]) if item.get("balance") not in (None, "") else None,
        }
    # Deposits carry no id of their own; walletTxId names them (KuCoin suffixes it where one tx pays twice).
    external_id = item["id"] if kind == HistoryKind.WITHDRAWAL and item.get("id") else item["walletTxId"]
    return {
        "external_id": external_id,
        "occurred_at": when,
        "currency": item["currency"],
        "amount": decimal(item["amount"]),
        "fee": decimal(item.get("fee")),
        "fee_currency": item["currency"],
        "address": item.get("address") or "",
        "txid": item.get("walletTxId") or "",
        "status": item.get("status", ""),
    }


# KuCoin's private REST weight allows a few history calls a second; a fifth of a second stays well inside it.
# Deposits: PROCESSING, SUCCESS, FAILURE; withdrawals also REVIEW and WALLET_PROCESSING on the way.
SOURCE = HistorySource(
    "kucoin",
    tuple(PATHS),
    0.2,
    fetch_page,
    normalize,
    completed_statuses={kind: frozenset({"SUCCESS"}) for kind in FUNDING},
    final_statuses={kind: frozenset({"SUCCESS", "FAILURE"}) for kind in FUNDING},
    # "Support to obtain 1 year historical data" (Get Account Ledgers).
    kept_for={HistoryKind.LEDGER: timedelta(days=365)},
    # bizType of a deposit, a withdrawal, a fill, and a transfer between the user's own accounts:
    # the main ledger's spellings (Get Account Ledgers, "BizType Description", Kucoin/kucoin-api-docs;
    # level A, as ccxt's parseLedgerEntryType reads them), then the HF ledger's (TRADE_EXCHANGE,
    # TRANSFER: Kucoin/kucoin-api-docs-hf, Account Ledger in high-frequency trading accounts).
    ledger_repeats=frozenset({"Deposit", "Withdrawal", "Trade_Exchange", "Transfer", "TRADE_EXCHANGE", "TRANSFER"}),
)
