"""KuCoin: ``currentPage``/``pageSize`` pages, newest first, each answering ``totalPage``."""

from urllib.parse import urlencode


from connectors.base.history import HistoryKind, HistorySource, decimal, from_ms

PAGE_SIZE = 500  # the largest pageSize KuCoin accepts
PATHS = {
    HistoryKind.TRADE: "/api/v1/fills",
    HistoryKind.DEPOSIT: "/api/v1/deposits",
    HistoryKind.WITHDRAWAL: "/api/v1/withdrawals",
    HistoryKind.LEDGER: "/api/v1/accounts/ledgers",
}


def fetch_page(api, connection, kind, cursor):
    page = cursor or 1
    data = api.signed(connection, "GET", f"{PATHS[kind]}?{urlencode({'currentPage': page, 'pageSize': PAGE_SIZE})}")
    return data.get("items") or [], (page + 1 if page < int(data.get("totalPage") or 0) else None)


def normalize(kind, item):
    when = from_ms(item["createdAt"])
    if kind == HistoryKind.TRADE:
        base, _, quote = item["symbol"].partition("-")
        return {"external_id": item["tradeId"], "occurred_at": when, "side": item["side"], "currency": base,
                "amount": decimal(item["size"]), "quote_currency": quote, "quote_amount": decimal(item["funds"]),
                "price": decimal(item["price"]), "fee": decimal(item["fee"]), "fee_currency": item["feeCurrency"]}
    if kind == HistoryKind.LEDGER:
        amount = decimal(item["amount"])
        return {"external_id": item["id"], "occurred_at": when, "entry_type": item.get("bizType", ""),
                "currency": item["currency"], "amount": -amount if item.get("direction") == "out" else amount,
                "fee": decimal(item.get("fee")), "fee_currency": item["currency"],
                "balance": decimal(item["balance"]) if item.get("balance") not in (None, "") else None}
    # Deposits carry no id of their own; walletTxId names them (KuCoin suffixes it where one tx pays twice).
    external_id = item["id"] if kind == HistoryKind.WITHDRAWAL and item.get("id") else item["walletTxId"]
    return {"external_id": external_id, "occurred_at": when, "currency": item["currency"],
            "amount": decimal(item["amount"]), "fee": decimal(item.get("fee")), "fee_currency": item["currency"],
            "address": item.get("address") or "", "txid": item.get("walletTxId") or "", "status": item.get("status", "")}


# KuCoin's private REST weight allows a few history calls a second; a fifth of a second stays well inside it.
# Deposits: PROCESSING, SUCCESS, FAILURE; withdrawals also WALLET_PROCESSING and REVIEW on the way.
FUNDING = (HistoryKind.DEPOSIT, HistoryKind.WITHDRAWAL)
SOURCE = HistorySource("kucoin", tuple(PATHS), 0.2, fetch_page, normalize,
                       completed_statuses={kind: frozenset({"SUCCESS"}) for kind in FUNDING},
                       final_statuses={kind: frozenset({"SUCCESS", "FAILURE"}) for kind in FUNDING})
