"""Kraken: Fast API keys over the OAuth token, private /0/private/<Method> calls and public data."""

import base64
import secrets
from datetime import datetime, timezone
from decimal import Decimal

from .. import clock, oauth
from ..api_auth import kraken_caller, kraken_error
from ..exchanges import CURRENCIES, KRAKEN_KEY_PERMISSIONS, kraken_currency, kraken_scope_for
from ..funds import WithdrawalRefused, balance_of, execute, kraken_plan, withdrawal_status
from ..http import json_object
from ..history import offset_page, records, text
from ..models import ApiKey, Balance, HistoryRecord
from .common import api

PAGE_SIZE = 50  # Kraken's Ledgers and TradesHistory return 50 rows per call, paged by ``ofs``


def token_caller(request):
    try:
        token = oauth.token_for_access("kraken", oauth.bearer_value(request.headers.get("Authorization", "")))
    except oauth.TokenProblem as problem:
        raise kraken_error(f"EOAuth:Invalid token ({problem.reason})")
    if "account.fast-api-key:write" not in token.scopes:
        raise kraken_error("EOAuth:Insufficient scope")
    return token


def _moment(value) -> datetime | None:
    """valid_until and friends: unix seconds or an ISO 8601 string."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or str(value).isdigit():
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@api("kraken", "fast-api-key", methods=("POST",), caller=token_caller)
def fast_api_key(request, token):
    body = json_object(request)
    if body is None:
        raise kraken_error("EGeneral:Invalid arguments")
    try:
        valid_until = _moment(body.get("valid_until"))
        nonce_window = int(body.get("nonce_window") or 0)
    except (ValueError, TypeError):
        raise kraken_error("EGeneral:Invalid arguments")
    name = str(body.get("api_key_name") or "")
    if not 1 <= len(name) <= 32:
        raise kraken_error("EGeneral:Invalid arguments:api_key_name")
    permissions = body.get("permissions") or {}
    if not isinstance(permissions, dict) or any(key not in KRAKEN_KEY_PERMISSIONS for key in permissions):
        raise kraken_error("EGeneral:Invalid arguments:permissions")
    wanted = [key for key in KRAKEN_KEY_PERMISSIONS if permissions.get(key) is True]
    if any(kraken_scope_for(permission) not in token.scopes for permission in wanted):
        raise kraken_error("EGeneral:Permission denied")
    if ApiKey.objects.filter(user=token.user, client=token.client, name=name, deleted_at__isnull=True).exists():
        raise kraken_error("EGeneral:Invalid arguments:api_key_name already in use")
    key = ApiKey.objects.create(
        exchange="kraken", user=token.user, client=token.client, name=name,
        api_key=base64.b64encode(secrets.token_bytes(42)).decode(),
        secret=base64.b64encode(secrets.token_bytes(64)).decode(),
        permissions=wanted, ip_allowlist=list(body.get("ip_allowlist") or []), nonce_window=max(nonce_window, 0),
        valid_until=valid_until, created_at=clock.now(),
    )
    return {"id": str(key.pk), "api_key": key.api_key, "secret": key.secret}


@api("kraken", "fast-api-key-delete", methods=("DELETE",), caller=token_caller)
def fast_api_key_delete(request, token, key_id):
    deleted = ApiKey.objects.filter(pk=key_id, user=token.user, client=token.client, deleted_at__isnull=True).update(
        deleted_at=clock.now()
    )
    if not deleted:
        raise kraken_error("EGeneral:Invalid arguments:id")
    return {"id": str(key_id), "deleted": True}


# --- private methods ------------------------------------------------------------------------------


def _balance(request, caller):
    return {CURRENCIES[row.currency].kraken_code: text(row.available.quantize(Decimal("0.0000000001")))
            for row in Balance.objects.filter(user=caller.user).order_by("currency") if row.currency in CURRENCIES}


def _ledger_item(record):
    return {"refid": record.details.get("withdrawalId", record.txid), "time": record.time.timestamp(),
            "type": record.entry_type, "subtype": "", "aclass": "currency",
            "asset": CURRENCIES[record.currency].kraken_code, "amount": text(record.amount), "fee": "0",
            "balance": text(record.balance_after)}


def _trade_item(record):
    base, _, quote = record.pair.partition("-")
    pair = f"{'XBT' if base == 'BTC' else base}{'XBT' if quote == 'BTC' else quote}"
    return {"ordertxid": f"O{record.txid[1:]}", "pair": pair, "time": record.time.timestamp(), "type": record.side,
            "ordertype": "limit", "price": text(record.price), "cost": text(record.price * record.amount),
            "fee": text(record.fee), "vol": text(record.amount), "margin": "0", "misc": "", "ledgers": []}


# Sources: krakenfx/api-specs spot-rest (openapi_v3.yaml "50 results are returned at a time, the most recent by
# default"; schemas/requests/user/ledgers/info.yaml, user/trades/history.yaml: start exclusive, end inclusive, unix
# seconds, ofs; schemas/requests/funding/{deposits,withdrawals}/recent.yaml: start, end, cursor, limit).


def _seconds(request, name: str) -> float | None:
    value = request.POST.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        # A ledger or trade id is accepted there too; the sandbox reads timestamps only.
        raise kraken_error("EGeneral:Invalid arguments")


def _in_range(request, queryset):
    start, end = _seconds(request, "start"), _seconds(request, "end")
    if start is not None:
        queryset = queryset.filter(time__gt=datetime.fromtimestamp(start, tz=timezone.utc))
    if end is not None:
        queryset = queryset.filter(time__lte=datetime.fromtimestamp(end, tz=timezone.utc))
    return queryset


def _asset(request):
    currency = kraken_currency(request.POST.get("asset", "")) if request.POST.get("asset") else None
    return currency.code if currency else None


def _paged(kind: str, result_key: str, formatter):
    def method(request, caller):
        try:
            offset = int(request.POST.get("ofs") or 0)
        except ValueError:
            raise kraken_error("EGeneral:Invalid arguments")
        queryset = _in_range(request, records(caller.user, kind, currency=_asset(request)))
        # Never more than 50 a call, whatever else the request says.
        rows, total = offset_page(queryset, max(offset, 0), PAGE_SIZE)
        return {result_key: {record.txid: formatter(record) for record in rows}, "count": total}

    return method


def _funding_item(record):
    return {"method": CURRENCIES[record.currency].chain(record.chain).name if record.chain else "", "aclass": "currency",
            "asset": CURRENCIES[record.currency].kraken_code, "refid": record.txid, "txid": record.txid,
            "info": record.address, "amount": text(record.amount), "fee": text(record.fee),
            "time": int(record.time.timestamp()),
            "status": "Success" if withdrawal_status(record) == "SUCCESS" else "Pending"}


def _funding_status(kind: str, result_key: str, default_limit: int):
    """Without ``cursor``: the most recent ``limit``, a list. With ``cursor=true`` (then the ``next_cursor`` it
    answered): pages of ``limit``, newest to oldest, ``{<kind>: [...], next_cursor}``; the deposit answer's key is
    the spec's, the withdrawal one's (``withdrawals``) the sandbox's choice (the spec shows only the list)."""

    def method(request, caller):
        try:
            limit = max(1, int(request.POST.get("limit") or default_limit))
        except ValueError:
            raise kraken_error("EGeneral:Invalid arguments")
        rows = _in_range(request, records(caller.user, kind, currency=_asset(request)))
        cursor = request.POST.get("cursor", "false")
        if cursor in ("", "false"):
            return [_funding_item(record) for record in rows[:limit]]
        offset = 0
        if cursor != "true":
            try:
                offset = int(cursor)
            except ValueError:
                raise kraken_error("EGeneral:Invalid arguments:cursor")
        page = list(rows[offset:offset + limit + 1])
        following = str(offset + limit) if len(page) > limit else None
        return {result_key: [_funding_item(record) for record in page[:limit]], "next_cursor": following}

    return method


def _refusal(refused: WithdrawalRefused):
    return kraken_error(refused.code)


def _withdraw_info(request, caller):
    try:
        plan = kraken_plan(caller.user, request.POST.dict())
    except WithdrawalRefused as refused:
        raise _refusal(refused)
    return {"method": plan.chain.name, "limit": text(balance_of(caller.user, plan.currency.code)),
            "amount": text(plan.amount_sent), "fee": text(plan.total_fee)}


def _withdraw(request, caller):
    try:
        plan = kraken_plan(caller.user, request.POST.dict())
        record = execute(caller.user, plan, details={"key": request.POST.get("key", "")})
    except WithdrawalRefused as refused:
        raise _refusal(refused)
    return {"refid": record.txid}


# Method name -> (permissions, any one of which allows it; implementation).
PRIVATE_METHODS = {
    "Balance": (["funds_query"], _balance),
    "Ledgers": (["ledger_query"], _paged(HistoryRecord.Kind.LEDGER, "ledger", _ledger_item)),
    "TradesHistory": (["trades_query_closed"], _paged(HistoryRecord.Kind.TRADE, "trades", _trade_item)),
    # Default page sizes of the spec: 25 deposits, 500 withdrawals.
    "DepositStatus": (["funds_query", "funds_add"], _funding_status(HistoryRecord.Kind.DEPOSIT, "deposit", 25)),
    "WithdrawStatus": (["funds_withdraw", "funds_query"],
                       _funding_status(HistoryRecord.Kind.WITHDRAWAL, "withdrawals", 500)),
    "WithdrawInfo": (["funds_withdraw"], _withdraw_info),
    "Withdraw": (["funds_withdraw"], _withdraw),
}


@api("kraken", "private", methods=("POST",), caller=kraken_caller)
def private(request, caller, method):
    if method not in PRIVATE_METHODS:
        raise kraken_error("EGeneral:Unknown method")
    permissions, implementation = PRIVATE_METHODS[method]
    if not any(caller.allows(permission) for permission in permissions):
        raise kraken_error("EGeneral:Permission denied")
    return implementation(request, caller)


# --- public ---------------------------------------------------------------------------------------


@api("kraken", "ticker")
def ticker(request):
    result = {}
    for pair in request.GET.get("pair", "").upper().split(","):
        base = kraken_currency(pair[:3])
        quote = kraken_currency(pair[3:])
        if not pair or base is None or quote is None:
            raise kraken_error("EQuery:Unknown asset pair")
        price = text((base.price_usdt / quote.price_usdt).quantize(Decimal("0.00001")))
        result[pair] = {"a": [price, "1", "1.000"], "b": [price, "1", "1.000"], "c": [price, "0.1"],
                        "v": ["100", "1000"], "p": [price, price], "t": [10, 100], "l": [price, price],
                        "h": [price, price], "o": price}
    return result


@api("kraken", "assets")
def assets(request):
    return {item.kraken_code: {"aclass": "currency", "altname": "XBT" if code == "BTC" else code, "decimals": 10,
                               "display_decimals": min(item.precision, 5), "status": "enabled"}
            for code, item in CURRENCIES.items()}
