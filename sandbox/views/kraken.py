"""Kraken: Fast API keys over the OAuth token, private /0/private/<Method> calls and public data."""

import base64
import hashlib
import secrets
from datetime import UTC, datetime
from decimal import Decimal

from django.views.decorators.csrf import csrf_exempt

from .. import clock, oauth, trading
from ..api_auth import kraken_caller, kraken_error
from ..deposits import MAX_ADDRESSES, address_create, addresses
from ..exchanges import (
    CURRENCIES,
    KRAKEN_KEY_PERMISSIONS,
    kraken_currency,
    kraken_deposit_method,
    kraken_scope_for,
    ticker_price_usdt,
)
from ..funds import WithdrawalRefused, balance_of, execute, kraken_plan, kraken_status
from ..history import offset_page, records, text
from ..http import is_json, json_object, json_response
from ..models import ApiKey, Balance, HistoryRecord, SpotOrder
from .common import api

PAGE_SIZE = 50  # Kraken's Ledgers and TradesHistory return 50 rows per call, paged by ``ofs``


# The Kraken Connect endpoints below follow krakenfx/api-specs oauth/openapi_v3.yaml. Its success shapes are
# {"result": ...}; it shows no error bodies, so refusals use Kraken's REST envelope {"error": [...]} (HTTP 200)
# with the sandbox's own strings (level C: a client must not depend on them).
FAST_API_READ, FAST_API_WRITE = "account.fast-api-key:read", "account.fast-api-key:write"
ACCOUNT_INFO = "account.info:basic"


def bearer_token(request):
    """The OAuth access token a Kraken Connect call carries as ``Authorization: Bearer``."""
    try:
        return oauth.token_for_access("kraken", oauth.bearer_value(request.headers.get("Authorization", "")))
    except oauth.TokenProblem as problem:
        raise kraken_error(f"EOAuth:Invalid token ({problem.reason})")


def require_scope(token, scope: str) -> None:
    """Each operation's ``security: OAuth2: [<scope>]`` in openapi_v3.yaml."""
    if scope not in token.scopes:
        raise kraken_error("EOAuth:Insufficient scope")


def token_caller(request):
    token = bearer_token(request)
    require_scope(token, FAST_API_WRITE)
    return token


def read_token_caller(request):
    token = bearer_token(request)
    require_scope(token, FAST_API_READ)
    return token


def _moment(value) -> datetime | None:
    """valid_until and friends: unix seconds (0: no limit) or an ISO 8601 string."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, (int, float)) or str(value).isdigit():
        return datetime.fromtimestamp(int(value), tz=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def json_body(request) -> dict:
    """openapi_v3.yaml gives the Fast API key operations an application/json request body: nothing else."""
    body = json_object(request) if is_json(request) else None
    if body is None:
        raise kraken_error("EGeneral:Invalid arguments")
    return body


def valid_name(value, field: str = "api_key_name") -> str:
    """ApiKeyName: a string of 1-32 characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= 32:
        raise kraken_error(f"EGeneral:Invalid arguments:{field}")
    return value


def live_keys(token):
    return ApiKey.objects.filter(exchange="kraken", user=token.user, client=token.client, deleted_at__isnull=True)


def key_named(token, name: str) -> ApiKey:
    key = live_keys(token).filter(name=name).first()
    if key is None:
        raise kraken_error("EGeneral:Invalid arguments:api_key_name")
    return key


def key_settings(body: dict, token) -> dict:
    """APIKeyParameters (ip_allowlist, nonce_window, permissions, query_from, query_to, valid_until) as model
    fields; only those the body names. Each permission needs its scope (funds_withdraw: ...:funds-withdraw)."""
    fields = {}
    try:
        if "valid_until" in body:
            fields["valid_until"] = _moment(body["valid_until"])
        if "nonce_window" in body:
            fields["nonce_window"] = max(int(body["nonce_window"] or 0), 0)
    except (ValueError, TypeError, OverflowError):
        raise kraken_error("EGeneral:Invalid arguments")
    if "ip_allowlist" in body:
        allowlist = body["ip_allowlist"] or []
        if not isinstance(allowlist, list) or not all(isinstance(item, str) for item in allowlist):
            raise kraken_error("EGeneral:Invalid arguments:ip_allowlist")
        fields["ip_allowlist"] = allowlist
    if "permissions" in body:
        permissions = body["permissions"] or {}
        if not isinstance(permissions, dict) or any(key not in KRAKEN_KEY_PERMISSIONS for key in permissions):
            raise kraken_error("EGeneral:Invalid arguments:permissions")
        wanted = [key for key in KRAKEN_KEY_PERMISSIONS if permissions.get(key) is True]
        if any(kraken_scope_for(permission) not in token.scopes for permission in wanted):
            raise kraken_error("EGeneral:Permission denied")
        fields["permissions"] = wanted
    return fields


def key_id(key: ApiKey) -> str:
    """APIKeyInfo.id: "API Key Description encoded using a modified base64 encoding: the 62nd and 63rd
    characters are '_' and ',' as opposed to '+' and '/'. Padding character is '-'." (the description is
    the key's name, ApiKeyName)."""
    encoded = base64.b64encode(key.name.encode()).decode()
    return encoded.translate(str.maketrans({"+": "_", "/": ",", "=": "-"}))


def key_info(key: ApiKey) -> dict:
    """APIKeyInfo, without api_key and secret: "only returned once when the API key is created"."""
    moment = key.created_at.isoformat().replace("+00:00", "Z")
    return {
        "api_key_name": key.name,
        "id": key_id(key),
        "created_time": moment,
        "modified_time": moment,
        "ip_allowlist": key.ip_allowlist,
        "last_used": 0,
        "nonce": key.last_nonce,
        "nonce_window": key.nonce_window,
        "oauth_client": key.client.client_id,
        "permissions": {permission: permission in key.permissions for permission in KRAKEN_KEY_PERMISSIONS},
        "purpose": "standard",
        "query_from": 0,
        "query_to": 0,
        "valid_until": int(key.valid_until.timestamp()) if key.valid_until else 0,
    }


# openapi_v3.yaml, POST /fast-api-key (createFastAPIKey, scope account.fast-api-key:write): APIKeyParameters
# -> result{secret, ...APIKeyInfo with api_key}.
@api("kraken", "fast-api-key", methods=("POST",), caller=token_caller)
def fast_api_key_create(request, token):
    body = json_body(request)
    name = valid_name(body.get("api_key_name"))
    fields = {
        "permissions": [],
        "ip_allowlist": [],
        "nonce_window": 0,
        "valid_until": None,
        **key_settings(body, token),
    }
    if live_keys(token).filter(name=name).exists():
        raise kraken_error("EGeneral:Invalid arguments:api_key_name already in use")
    key = ApiKey.objects.create(
        exchange="kraken",
        user=token.user,
        client=token.client,
        name=name,
        api_key=base64.b64encode(secrets.token_bytes(42)).decode(),
        secret=base64.b64encode(secrets.token_bytes(64)).decode(),
        created_at=clock.now(),
        **fields,
    )
    return {"secret": key.secret, "api_key": key.api_key, **key_info(key)}


# openapi_v3.yaml, GET /fast-api-key (listFastApiKey, scope account.fast-api-key:read) -> result[APIKeyInfo].
# The sandbox lists the keys this client made for the user (which keys a broker sees: level C).
@api("kraken", "fast-api-key-list", methods=("GET",), caller=read_token_caller)
def fast_api_key_list(request, token):
    return [key_info(key) for key in live_keys(token).select_related("client").order_by("created_at", "pk")]


# openapi_v3.yaml, PUT /fast-api-key (updateFastApiKey, scope account.fast-api-key:write): the key named by
# api_key_name takes new_api_key_name and the APIKeyParameters given -> result: true.
@api("kraken", "fast-api-key-update", methods=("PUT",), caller=token_caller)
def fast_api_key_update(request, token):
    body = json_body(request)
    key = key_named(token, valid_name(body.get("api_key_name")))
    fields = key_settings(body, token)
    if body.get("new_api_key_name") is not None:
        new_name = valid_name(body["new_api_key_name"], "new_api_key_name")
        if new_name != key.name and live_keys(token).filter(name=new_name).exists():
            raise kraken_error("EGeneral:Invalid arguments:new_api_key_name already in use")
        fields["name"] = new_name
    ApiKey.objects.filter(pk=key.pk).update(**fields)
    return True


# openapi_v3.yaml, DELETE /fast-api-key (removeFastApikey, scope account.fast-api-key:write): JSON body
# {api_key_name} -> result: true. There is no delete by id: /oauth/fast-api-key/<id> is no route (HTTP 404).
@api("kraken", "fast-api-key-delete", methods=("DELETE",), caller=token_caller)
def fast_api_key_delete(request, token):
    key = key_named(token, valid_name(json_body(request).get("api_key_name")))
    ApiKey.objects.filter(pk=key.pk).update(deleted_at=clock.now())
    return True


FAST_API_KEY_OPERATIONS = {
    "POST": fast_api_key_create,
    "GET": fast_api_key_list,
    "PUT": fast_api_key_update,
    "DELETE": fast_api_key_delete,
}


@csrf_exempt
def fast_api_key(request):
    """/oauth/fast-api-key: one path, four operations by method (openapi_v3.yaml paths./fast-api-key)."""
    operation = FAST_API_KEY_OPERATIONS.get(request.method)
    if operation is None:
        return json_response(
            {"error": ["EGeneral:Invalid arguments"], "result": {}},
            status=405,
            Allow=", ".join(FAST_API_KEY_OPERATIONS),
        )
    return operation(request)


def account_iban(user) -> str:
    """A stable IIBAN-like identifier per sandbox account (Kraken's format: level C)."""
    digest = base64.b32encode(hashlib.sha256(f"kraken:{user.uid}".encode()).digest()).decode()
    return f"AA{int(hashlib.sha256(user.uid.encode()).hexdigest(), 16) % 90 + 10} N84G {digest[:4]} {digest[4:8]}"


# openapi_v3.yaml, GET /userinfo (getOAuthInfo, scope account.info:basic) -> result{email, iban}.
@api("kraken", "userinfo")
def userinfo(request):
    token = bearer_token(request)
    require_scope(token, ACCOUNT_INFO)
    return {"email": token.user.email, "iban": account_iban(token.user)}


# --- private methods ------------------------------------------------------------------------------


# krakenfx/api-specs spot-rest/openapi_v3.yaml, POST /private/Balance: {asset: amount}.
def _balance(request, caller):
    return {
        CURRENCIES[row.currency].kraken_code: text(row.available.quantize(Decimal("0.0000000001")))
        for row in Balance.objects.filter(user=caller.user).order_by("currency")
        if row.currency in CURRENCIES
    }


def _ledger_item(record):
    return {
        "refid": record.details.get("withdrawalId", record.txid),
        "time": record.time.timestamp(),
        "type": record.entry_type,
        "subtype": "",
        "aclass": "currency",
        "asset": CURRENCIES[record.currency].kraken_code,
        "amount": text(record.amount),
        "fee": "0",
        "balance": text(record.balance_after),
    }


def _trade_item(record):
    base, _, quote = record.pair.partition("-")
    pair = f"{'XBT' if base == 'BTC' else base}{'XBT' if quote == 'BTC' else quote}"
    return {
        "ordertxid": record.details.get("orderId") or f"O{record.txid[1:]}",
        "pair": pair,
        "time": record.time.timestamp(),
        "type": record.side,
        "ordertype": "limit",
        "price": text(record.price),
        "cost": text(record.price * record.amount),
        "fee": text(record.fee),
        "vol": text(record.amount),
        "margin": "0",
        "misc": "",
        "ledgers": [],
    }


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
        queryset = queryset.filter(time__gt=datetime.fromtimestamp(start, tz=UTC))
    if end is not None:
        queryset = queryset.filter(time__lte=datetime.fromtimestamp(end, tz=UTC))
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
    return {
        "method": CURRENCIES[record.currency].chain(record.chain).name if record.chain else "",
        "aclass": "currency",
        "asset": CURRENCIES[record.currency].kraken_code,
        "refid": record.txid,
        "txid": record.txid,
        "info": record.address,
        "amount": text(record.amount),
        "fee": text(record.fee),
        "time": int(record.time.timestamp()),
        **kraken_status(record),
    }


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
        page = list(rows[offset : offset + limit + 1])
        following = str(offset + limit) if len(page) > limit else None
        return {result_key: [_funding_item(record) for record in page[:limit]], "next_cursor": following}

    return method


def _refusal(refused: WithdrawalRefused):
    return kraken_error(refused.code)


# spot-rest/openapi_v3.yaml, POST /private/WithdrawInfo (requests/funding/withdrawals/info.yaml):
# asset, key, amount -> {method, limit, amount, fee}.
def _withdraw_info(request, caller):
    try:
        plan = kraken_plan(caller.user, request.POST.dict())
    except WithdrawalRefused as refused:
        raise _refusal(refused)
    return {
        "method": plan.chain.name,
        "limit": text(balance_of(caller.user, plan.currency.code)),
        "amount": text(plan.amount_sent),
        "fee": text(plan.total_fee),
    }


# spot-rest/openapi_v3.yaml, POST /private/Withdraw (requests/funding/withdrawals/withdrawal.yaml: asset, key,
# amount, optional address and max_fee) -> {refid} (responses/funding/withdrawals/withdrawal.yaml).
def _withdraw(request, caller):
    try:
        plan = kraken_plan(caller.user, request.POST.dict())
        record = execute(caller.user, plan, details={"key": request.POST.get("key", "")})
    except WithdrawalRefused as refused:
        raise _refusal(refused)
    return {"refid": record.txid}


# krakenfx/api-specs (branch feature/openapi-spec) spot-rest/openapi_v3.yaml, POST /private/DepositMethods ("Funds
# permissions - Query and Funds permissions - Deposit"; requests/funding/deposits/methods.yaml: asset) ->
# [depositMethod {method, limit, fee, address-setup-fee, gen-address, minimum}] (objects/funding/deposits/
# method.yaml). An unknown asset's error string is the sandbox's (C).
def _deposit_asset(request):
    if not request.POST.get("asset"):
        raise kraken_error("EGeneral:Invalid arguments:asset")
    found = kraken_currency(request.POST["asset"])
    if found is None:
        raise kraken_error("EFunding:Unknown asset")
    return found


def _deposit_methods(request, caller):
    if not caller.allows("funds_add"):
        raise kraken_error("EGeneral:Permission denied")
    found = _deposit_asset(request)
    return [
        {
            "method": kraken_deposit_method(found, chain),
            "limit": False,
            "fee": "0.0000000000",
            "gen-address": True,
            "minimum": text(chain.deposit_min_size),
        }
        for chain in found.chains
    ]


def _deposit_address_item(row, chain) -> dict:
    item = {"address": row.address, "expiretm": "0", "new": True}
    # address.yaml's "tag" holds XRP's tag and the memo of STX, XLM, EOS; the spec's example answers a memo chain
    # with "memo". The sandbox's memo chain (TON) answers as the example does.
    return {**item, "memo": row.memo} if chain.memo_required else item


# spot-rest/openapi_v3.yaml, POST /private/DepositAddresses ("Funds permissions - Query"; requests/funding/
# deposits/addresses.yaml: asset, method required, new default false, amount for Lightning only) -> [depositAddress
# {address, expiretm, new, tag}] newest first; ``new`` makes another (at most MAX_ADDRESSES, then the sandbox's
# own error string, C). Without ``new`` an account that has none gets an empty list.
def _deposit_addresses(request, caller):
    found = _deposit_asset(request)
    chain = next(
        (chain for chain in found.chains if kraken_deposit_method(found, chain) == request.POST.get("method")), None
    )
    if chain is None:
        raise kraken_error("EFunding:Invalid method")
    if request.POST.get("new", "false").lower() in ("true", "1"):
        if addresses(caller.user, found, chain).count() >= MAX_ADDRESSES:
            raise kraken_error("EFunding:Too many addresses")
        address_create(caller.user, found, chain)
    return [_deposit_address_item(row, chain) for row in addresses(caller.user, found, chain)]


# krakenfx/api-specs spot-rest/openapi_v3.yaml, POST /private/WithdrawAddresses (requests/funding/withdrawals/
# addresses.yaml: asset, aclass, method, key, verified filters) -> [{address, asset, method, key, tag, verified}]
# (responses/funding/withdrawals/addresses.yaml). The permission it needs is the sandbox's reading (Withdraw's, C);
# every saved address of the sandbox counts as verified.
def _withdraw_addresses(request, caller):
    asset = request.POST.get("asset")
    found = kraken_currency(asset) if asset else None
    if asset and found is None:
        raise kraken_error("EFunding:Invalid asset")
    items = []
    for entry in caller.user.address_book:
        currency = CURRENCIES.get(entry["currency"])
        if currency is None or (found is not None and currency.code != found.code):
            continue
        item = {
            "address": entry["address"],
            "asset": currency.kraken_code,
            "method": currency.chain(entry["chain"]).name,
            "key": entry["name"],
            "verified": True,
        }
        if request.POST.get("key") and item["key"] != request.POST["key"]:
            continue
        if request.POST.get("method") and item["method"] != request.POST["method"]:
            continue
        items.append({**item, "tag": entry["memo"]} if entry.get("memo") else item)
    return items


# --- spot orders ------------------------------------------------------------------------------------------
# krakenfx/api-specs spot-rest/openapi_v3.yaml (level A): AddOrder (schemas/requests/trading/orders/add.yaml:
# pair, type, ordertype, volume, price, cl_ord_id; "Orders and trades - Create & modify orders"), CancelOrder (txid
# or cl_ord_id; "Create & modify orders" or "Cancel & close orders"), QueryOrders (txid, trades), OpenOrders and
# ClosedOrders ("Orders and trades - Query open/closed orders & trades"), TradeVolume (fees in percent), public
# AssetPairs (lot_decimals, tick_size, ordermin, costmin). The spec has no attribution field on an order; a
# ``broker`` parameter appears in one third-party client only (level C), so the sandbox stores it where sent and
# returns it nowhere.
KRAKEN_STATUS = {"open": "open", "filled": "closed", "cancelled": "canceled"}


def kraken_pair_name(pair) -> str:
    return f"{'XBT' if pair.base == 'BTC' else pair.base}{'XBT' if pair.quote == 'BTC' else pair.quote}"


def _kraken_pair(name: str):
    wanted = (name or "").upper().replace("/", "")
    found = next((pair for pair in trading.PAIRS.values() if kraken_pair_name(pair) == wanted), None)
    if found is None:
        raise kraken_error("EQuery:Unknown asset pair")
    return found


def _order_refused(refused: trading.OrderRefused):
    return kraken_error(
        {
            "balance": "EOrder:Insufficient funds",
            "min_size": "EOrder:Order minimum not met",
            "not_found": "EOrder:Unknown order",
            "not_open": "EOrder:Unknown order",
            "symbol": "EQuery:Unknown asset pair",
        }.get(refused.kind, "EGeneral:Invalid arguments")
    )


def _add_order(request, caller):
    pair = _kraken_pair(request.POST.get("pair", ""))
    cl_ord_id = request.POST.get("cl_ord_id", "")
    if cl_ord_id and len(cl_ord_id.replace("-", "")) > 32:
        raise kraken_error("EGeneral:Invalid arguments:cl_ord_id")
    try:
        order = trading.order_place(
            user=caller.user,
            symbol=pair.symbol,
            side=request.POST.get("type", ""),
            type=request.POST.get("ordertype", ""),
            size=trading.amount(request.POST.get("volume")),
            price=trading.amount(request.POST.get("price")) if request.POST.get("ordertype") == "limit" else None,
            client_order_id=cl_ord_id,
            attribution={"broker": request.POST.get("broker", "")},
        )
    except trading.OrderRefused as refused:
        raise _order_refused(refused)
    price = f" @ limit {text(order.price)}" if order.price is not None else ""
    return {
        "descr": {"order": f"{order.side} {text(order.size)} {kraken_pair_name(pair)}{price}"},
        "txid": [order.order_id],
    }


def _find_order(request, caller):
    try:
        return trading.order_find(
            caller.user, order_id=request.POST.get("txid", ""), client_order_id=request.POST.get("cl_ord_id", "")
        )
    except trading.OrderRefused as refused:
        raise _order_refused(refused)


def _cancel_order(request, caller):
    try:
        trading.order_cancel(_find_order(request, caller))
    except trading.OrderRefused as refused:
        raise _order_refused(refused)
    return {"count": 1}


def _order_info(order) -> dict:
    pair = trading.PAIRS[order.symbol]
    average = order.funds / order.filled_size if order.filled_size else Decimal(0)
    return {
        "refid": None,
        "userref": 0,
        "cl_ord_id": order.client_order_id,
        "status": KRAKEN_STATUS[order.status],
        "opentm": order.created_at.timestamp(),
        "starttm": 0,
        "expiretm": 0,
        "closetm": order.updated_at.timestamp() if order.status != "open" else None,
        "descr": {
            "pair": kraken_pair_name(pair),
            "type": order.side,
            "ordertype": order.type,
            "price": text(order.price) if order.price is not None else "0",
            "price2": "0",
            "leverage": "none",
            "order": f"{order.side} {text(order.size)} {kraken_pair_name(pair)}",
            "close": "",
        },
        "vol": text(order.size),
        "vol_exec": text(order.filled_size),
        "cost": text(order.funds),
        "fee": text(order.fee),
        "price": text(average),
        "stopprice": "0",
        "limitprice": "0",
        "misc": "",
        "oflags": "fciq",
        "trades": [order.trade_id] if order.trade_id else [],
    }


def _query_orders(request, caller):
    wanted = [txid for txid in request.POST.get("txid", "").split(",") if txid]
    if not wanted or len(wanted) > 50:
        raise kraken_error("EGeneral:Invalid arguments:txid")
    return {
        order.order_id: _order_info(order) for order in SpotOrder.objects.filter(user=caller.user, order_id__in=wanted)
    }


def _open_orders(request, caller):
    return {"open": {order.order_id: _order_info(order) for order in trading.orders(caller.user, open_only=True)}}


def _closed_orders(request, caller):
    """ClosedOrders: newest first, a page of them; ``start`` (a Unix time in seconds, spot-rest/openapi_v3.yaml)
    leaves out those created before it."""
    closed = trading.orders(caller.user, open_only=False)
    if request.POST.get("start"):
        try:
            start = datetime.fromtimestamp(float(request.POST["start"]), tz=UTC)
        except (ValueError, OverflowError):
            raise kraken_error("EGeneral:Invalid arguments:start") from None
        closed = closed.filter(created_at__gte=start)
    closed = list(closed[:PAGE_SIZE])
    return {"closed": {order.order_id: _order_info(order) for order in closed}, "count": len(closed)}


def _query_trades(request, caller):
    """QueryTrades: txid, up to 20 comma-separated; {txid: trade}."""
    wanted = [txid for txid in request.POST.get("txid", "").split(",") if txid]
    if not wanted or len(wanted) > 20:
        raise kraken_error("EGeneral:Invalid arguments:txid")
    return {
        record.txid: _trade_item(record)
        for record in HistoryRecord.objects.filter(user=caller.user, kind=HistoryRecord.Kind.TRADE, txid__in=wanted)
    }


def _trade_volume(request, caller):
    maker, taker = trading.FEE_RATES["kraken"]
    names = [name for name in request.POST.get("pair", "").split(",") if name]
    pairs = [_kraken_pair(name) for name in names]
    return {
        "currency": "ZUSD",
        "volume": "0",
        "fees": {
            kraken_pair_name(p): {
                "fee": text(taker * 100),
                "minfee": "0.1",
                "maxfee": text(taker * 100),
                "nextfee": None,
                "tiervolume": "0",
                "nextvolume": None,
            }
            for p in pairs
        },
        "fees_maker": {
            kraken_pair_name(p): {
                "fee": text(maker * 100),
                "minfee": "0",
                "maxfee": text(maker * 100),
                "nextfee": None,
                "tiervolume": "0",
                "nextvolume": None,
            }
            for p in pairs
        },
    }


# Method name -> (permissions, any one of which allows it; implementation).
PRIVATE_METHODS = {
    "Balance": (["funds_query"], _balance),
    "Ledgers": (["ledger_query"], _paged(HistoryRecord.Kind.LEDGER, "ledger", _ledger_item)),
    "TradesHistory": (["trades_query_closed"], _paged(HistoryRecord.Kind.TRADE, "trades", _trade_item)),
    # Default page sizes of the spec: 25 deposits, 500 withdrawals.
    "DepositStatus": (["funds_query", "funds_add"], _funding_status(HistoryRecord.Kind.DEPOSIT, "deposit", 25)),
    "WithdrawStatus": (
        ["funds_withdraw", "funds_query"],
        _funding_status(HistoryRecord.Kind.WITHDRAWAL, "withdrawals", 500),
    ),
    "WithdrawInfo": (["funds_withdraw"], _withdraw_info),
    "Withdraw": (["funds_withdraw"], _withdraw),
    "WithdrawAddresses": (["funds_withdraw"], _withdraw_addresses),
    "DepositMethods": (["funds_query"], _deposit_methods),  # and funds_add, checked there
    "DepositAddresses": (["funds_query"], _deposit_addresses),
    "AddOrder": (["trades_modify"], _add_order),
    "CancelOrder": (["trades_modify", "trades_close"], _cancel_order),
    "QueryOrders": (["trades_query_open", "trades_query_closed"], _query_orders),
    "OpenOrders": (["trades_query_open"], _open_orders),
    "ClosedOrders": (["trades_query_closed"], _closed_orders),
    "QueryTrades": (["trades_query_closed"], _query_trades),
    "TradeVolume": (["funds_query"], _trade_volume),
}


# spot-rest/openapi_v3.yaml, POST /private/<Method>: form-encoded with nonce, API-Key and API-Sign.
@api("kraken", "private", methods=("POST",), caller=kraken_caller)
def private(request, caller, method):
    if method not in PRIVATE_METHODS:
        raise kraken_error("EGeneral:Unknown method")
    permissions, implementation = PRIVATE_METHODS[method]
    if not any(caller.allows(permission) for permission in permissions):
        raise kraken_error("EGeneral:Permission denied")
    return implementation(request, caller)


# --- public ---------------------------------------------------------------------------------------


# spot-rest/openapi_v3.yaml, GET /public/Ticker (getTickerInformation).
@api("kraken", "ticker")
def ticker(request):
    result = {}
    for pair in request.GET.get("pair", "").upper().split(","):
        base = kraken_currency(pair[:3])
        quote = kraken_currency(pair[3:])
        if base is not None and quote is not None:
            base_usdt, quote_usdt = base.price_usdt, quote.price_usdt
        elif pair.endswith("USDT"):  # a quoted-only base, four letters like USDC (Kraken's pair USDCUSDT)
            base_usdt, quote_usdt = ticker_price_usdt(pair[:-4]), Decimal(1)
        else:
            base_usdt = quote_usdt = None
        if not pair or base_usdt is None or quote_usdt is None:
            raise kraken_error("EQuery:Unknown asset pair")
        price = text((base_usdt / quote_usdt).quantize(Decimal("0.00001")))
        result[pair] = {
            "a": [price, "1", "1.000"],
            "b": [price, "1", "1.000"],
            "c": [price, "0.1"],
            "v": ["100", "1000"],
            "p": [price, price],
            "t": [10, 100],
            "l": [price, price],
            "h": [price, price],
            "o": price,
        }
    return result


# spot-rest/openapi_v3.yaml, GET /public/Assets (getAssetInfo).
@api("kraken", "assets")
def assets(request):
    return {
        item.kraken_code: {
            "aclass": "currency",
            "altname": "XBT" if code == "BTC" else code,
            "decimals": 10,
            "display_decimals": min(item.precision, 5),
            "status": "enabled",
        }
        for code, item in CURRENCIES.items()
    }


# spot-rest/openapi_v3.yaml, GET /public/AssetPairs (getTradableAssetPairs): pair (comma-separated) optional.
@api("kraken", "asset-pairs")
def asset_pairs(request):
    names = [name for name in request.GET.get("pair", "").split(",") if name]
    pairs = [_kraken_pair(name) for name in names] if names else list(trading.PAIRS.values())
    return {
        kraken_pair_name(pair): {
            "altname": kraken_pair_name(pair),
            "wsname": f"{'XBT' if pair.base == 'BTC' else pair.base}/{'XBT' if pair.quote == 'BTC' else pair.quote}",
            "aclass_base": "currency",
            "base": CURRENCIES[pair.base].kraken_code,
            "aclass_quote": "currency",
            "quote": CURRENCIES[pair.quote].kraken_code,
            "pair_decimals": -pair.price_tick.as_tuple().exponent,
            "cost_decimals": 5,
            "lot_decimals": -pair.size_step.as_tuple().exponent,
            "lot_multiplier": 1,
            "fee_volume_currency": "ZUSD",
            "ordermin": text(pair.min_size),
            "costmin": text(pair.min_funds),
            "tick_size": text(pair.price_tick),
            "status": "online",
        }
        for pair in pairs
    }
