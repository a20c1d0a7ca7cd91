"""KuCoin: the OAuth token calls and Fast API key creation (www host), the signed REST endpoints (api host)."""

import json
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal
from urllib.parse import unquote

from django.db.models import Q
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .. import clock, faults, oauth, trading
from ..api_auth import ApiRefused, kucoin_caller, kucoin_error
from ..deposits import address_create, addresses
from ..exchanges import CURRENCIES, KUCOIN_AUTH_GROUPS, KUCOIN_TOKEN_SCOPE, QUOTED_ONLY_USDT, ticker_price_usdt
from ..exchanges import currency as find_currency
from ..funds import WithdrawalRefused, kucoin_withdraw, withdrawal_status
from ..history import (
    RangeRefused,
    ledger_type,
    ledger_type_filter,
    offset_page,
    records,
    text,
    time_range,
    to_ms,
)
from ..http import json_object, json_response, request_params, site_base
from ..models import ApiKey, Balance, Client, HistoryRecord, Token
from .common import api, int_param
from .oauth import oauth_error_response

MAX_KEYS_PER_CLIENT = 5
GROUPS_NOT_APPROVED_CODE = "40503"


def envelope(data=None, *, success=True, code="200", msg="success", status=200) -> JsonResponse:
    """The Fast API key endpoint's own envelope (unlike the REST API's {"code": "200000", "data"})."""
    return JsonResponse({"success": success, "code": code, "msg": msg, "retry": False, "data": data}, status=status)


# --- the www host: token, refresh, key creation ---------------------------------------------------------
# KuCoin's OAuth calls live on www.kucoin.com, its REST API on api.kucoin.com (Fast API document, public copy,
# sections 4 and 7; level B). The sandbox serves the first under /sandbox/kucoin-www/ and the second under
# /sandbox/kucoin/, and refuses an OAuth call at the api host.

TOKEN_PARAMETERS = ("grant_type", "code", "client_id", "client_secret")


def token_answer(token) -> JsonResponse:
    """Section 7.2/7.3's answer; its scope is the token's own (OAUTH_CREATE_API), never the approved groups."""
    body = oauth.token_response(token)
    body["scope"] = [KUCOIN_TOKEN_SCOPE]
    return json_response(body)


@csrf_exempt
@faults.endpoint("kucoin", "token")
def access_token(request):
    """Section 7.2 (level B, and the public integrations that call it): ``GET
    /_oauth/access-token?grant_type=authorization_code&code&redirect_uri&client_id`` with the redirect URL
    unencoded. client_secret is optional (one integration sends it, the document and another do not)."""
    if request.method != "GET":
        return json_response({"error": "invalid_request", "error_description": "GET only."}, status=405)
    params = request.GET
    try:
        if params.get("grant_type") != "authorization_code":
            raise oauth.OAuthError("unsupported_grant_type", "grant_type must be authorization_code.")
        redirect_uri = oauth.kucoin_raw_redirect_uri(request.META.get("QUERY_STRING", ""), TOKEN_PARAMETERS)
        if redirect_uri is None:
            raise oauth.OAuthError("invalid_request", "redirect_uri is required.")
        if redirect_uri != unquote(redirect_uri):
            raise oauth.OAuthError(
                "invalid_request", "redirect_uri must be sent unencoded (please don't encode the redirect URL)."
            )
        client = client_for_token_call(params)
        token = oauth.exchange_code(client, params.get("code", ""), redirect_uri, redirect_uri_required=True)
    except oauth.OAuthError as problem:
        return oauth_error_response(problem, "kucoin")
    return token_answer(token)


# Section 7.3's table gives grant_type "authorization_code"; RFC 6749 says "refresh_token". No integration shows
# a working refresh (level C), so both are accepted.
REFRESH_GRANT_TYPES = {"authorization_code", "refresh_token"}


@csrf_exempt
@faults.endpoint("kucoin", "refresh-token")
def refresh_token(request):
    """Section 7.3 (level B): ``POST /_oauth/refresh-token`` with grant_type, refresh_token and scope (all
    compulsory) in the body; the answer's scope is OAUTH_CREATE_API. The body's encoding is not documented
    (form or JSON accepted), nor is client authentication (client_id/client_secret checked where sent)."""
    if request.method != "POST":
        return json_response({"error": "invalid_request", "error_description": "POST only."}, status=405)
    params = request_params(request)
    try:
        if params.get("grant_type") not in REFRESH_GRANT_TYPES:
            raise oauth.OAuthError("unsupported_grant_type", "grant_type must be authorization_code.")
        if not params.get("scope"):
            raise oauth.OAuthError("invalid_request", "scope is required.")
        if params.get("scope") != KUCOIN_TOKEN_SCOPE:
            raise oauth.OAuthError("invalid_scope", f"scope must be {KUCOIN_TOKEN_SCOPE}.")
        previous = (
            Token.objects.select_related("client")
            .filter(refresh_token=params.get("refresh_token") or "", client__exchange="kucoin")
            .first()
        )
        if previous is None:
            raise oauth.OAuthError("invalid_grant", "Unknown refresh token.")
        client = client_for_token_call(params) if params.get("client_id") else previous.client
        # The approved groups stay with the pair: the scope names only the token's own purpose.
        token = oauth.refresh(client, params.get("refresh_token", ""))
    except oauth.OAuthError as problem:
        return oauth_error_response(problem, "kucoin")
    return token_answer(token)


def client_for_token_call(params) -> Client:
    client = Client.objects.filter(exchange="kucoin", client_id=params.get("client_id") or "").first()
    if client is None:
        raise oauth.OAuthError("invalid_client", "Unknown client.", status=401)
    if params.get("client_secret") is not None:
        oauth.authenticate_client("kucoin", client.client_id, params.get("client_secret"))
    return client


@csrf_exempt
def api_at_www_host(request, path):
    """api.kucoin.com serves no OAuth paths (the document puts them all on www.kucoin.com): answered as a
    missing route, as KuCoin's API host answers one."""
    return json_response({"code": "404", "msg": "Not Found"}, status=404)


def key_owner(request):
    """The user and approved groups behind the Bearer access token, or the refusal in the envelope."""
    value = oauth.bearer_value(request.headers.get("Authorization", ""))
    try:
        token = oauth.token_for_access("kucoin", value)
    except oauth.TokenProblem as problem:
        return None, envelope(success=False, code="401", msg=f"Access token {problem.reason}.", status=401)
    return token, None


@api("kucoin", "api-key-add", methods=("POST",))
def api_key_add_v1(request):
    """Section 4.1, old partners: ``POST /_oauth/resource/ucenter/outer/api-key/add``, Bearer, "no parameter
    needed" (level B: the document and an integration that posts no body). The key gets the groups the user
    approved; a body is ignored."""
    token, refused = key_owner(request)
    if refused:
        return refused
    return issue_key(token, [group for group in KUCOIN_AUTH_GROUPS if group in token.scopes], addressbook_only=False)


@api("kucoin", "api-key-add", methods=("POST",))
def api_key_add_v2(request):
    """Section 4.2, FastAPI 2.0 partners: ``POST /_oauth/resource/cyber-truck-vault/v2/outer/api-key/add``, Bearer,
    JSON ``{authGroupMap: {group: bool}, isAddressbookOnly}`` (level B: the document and integrations that use
    it). An integration reports code 40503 ("risk validation") when the map differs from what the user approved
    on KuCoin's page: the sandbox answers that for any difference, a group asked for or left out."""
    token, refused = key_owner(request)
    if refused:
        return refused
    body = json_object(request)
    if body is None:
        return envelope(success=False, code="400", msg="The body must be a JSON object.", status=400)
    group_map = body.get("authGroupMap")
    if (
        not isinstance(group_map, dict)
        or any(group not in KUCOIN_AUTH_GROUPS for group in group_map)
        or any(not isinstance(value, bool) for value in group_map.values())
    ):
        return envelope(
            success=False, code="400", msg="authGroupMap must map KuCoin's groups to true or false.", status=400
        )
    wanted = [group for group in KUCOIN_AUTH_GROUPS if group_map.get(group) is True]
    approved = [group for group in KUCOIN_AUTH_GROUPS if group in token.scopes]
    if wanted != approved:
        return envelope(
            success=False,
            code=GROUPS_NOT_APPROVED_CODE,
            msg="risk validation: authGroupMap differs from the user's authorization.",
        )
    return issue_key(token, wanted, addressbook_only=bool(body.get("isAddressbookOnly")))


def issue_key(token, groups: list[str], *, addressbook_only: bool):
    keys = ApiKey.objects.filter(user=token.user, client=token.client, deleted_at__isnull=True)
    if keys.count() >= MAX_KEYS_PER_CLIENT:
        return envelope(success=False, code="400", msg="The number of user's apiKey reaches to the maximum level")
    key = ApiKey.objects.create(
        exchange="kucoin",
        user=token.user,
        client=token.client,
        name=f"fastapi{secrets.token_hex(4)}",
        api_key=secrets.token_hex(12),
        secret=str(uuid.uuid4()),
        passphrase=secrets.token_urlsafe(12),
        version="3",
        permissions=groups,
        addressbook_only=addressbook_only,
        created_at=clock.now(),
    )
    return envelope(
        {
            "apiName": key.name,
            "apiKey": key.api_key,
            "secret": key.secret,
            "passphrase": key.passphrase,
            "brokerId": token.client.client_id,
            # As the document prints it: comma-separated; the sandbox adds the trailing comma of the seed guide.
            "authGroup": "".join(f"{group}," for group in groups),
            "ipWhiteList": "",
        }
    )


def require(caller, group: str) -> None:
    if not caller.allows(group):
        raise kucoin_error("400007", "Access denied, require more permission.", status=403)


@api("kucoin", "accounts", caller=kucoin_caller)
def accounts(request, caller):
    """``GET /api/v1/accounts`` (KuCoin's API docs, Kucoin/kucoin-api-docs; level A): one row per currency and
    account type, ``type`` filtering. The main account holds what deposits bring; the high-frequency trading account
    (``type=trade_hf``, "List high-frequency trading accounts", Kucoin/kucoin-api-docs-hf; level A) is what HF orders
    trade from, listed where the user has one (a non-zero balance in the sandbox)."""
    require(caller, "API_COMMON")
    balances = Balance.objects.filter(user=caller.user).order_by("currency")
    if request.GET.get("currency"):
        balances = balances.filter(currency=request.GET["currency"].upper())
    wanted = request.GET.get("type") or ""
    rows = []
    for row in balances:
        for account, amount in (("main", row.available), ("trade_hf", row.trading)):
            if wanted in ("", account) and (account == "main" or amount):
                rows.append(
                    {
                        "id": f"{row.pk}{'-hf' if account == 'trade_hf' else ''}",
                        "currency": row.currency,
                        "type": account,
                        "balance": text(amount),
                        "available": text(amount),
                        "holds": "0",
                    }
                )
    return rows


@api("kucoin", "currency")
def currency_detail(request, code):
    """``GET /api/v3/currencies/{currency}`` (KuCoin's API docs and universal SDK; level A): chains and their
    withdrawal fee, minimum and precision."""
    found = find_currency(code)
    if found is None:
        raise kucoin_error("900003", "Currency not found.", status=404)
    chains = [chain for chain in found.chains if not request.GET.get("chain") or chain.chain_id == request.GET["chain"]]
    return {
        "currency": found.code,
        "name": found.code,
        "fullName": found.full_name,
        "precision": found.precision,
        "isMarginEnabled": False,
        "isDebitEnabled": False,
        "chains": [
            {
                "chainName": chain.name,
                "chainId": chain.chain_id,
                "withdrawalMinSize": text(chain.withdrawal_min_size),
                "depositMinSize": text(chain.deposit_min_size),
                "withdrawalMinFee": text(chain.withdrawal_fee),
                "withdrawPrecision": found.precision,
                "isWithdrawEnabled": True,
                "isDepositEnabled": True,
                "confirms": chain.confirmations,
                "contractAddress": "",
                "needTag": chain.memo_required,
            }
            for chain in chains
        ],
    }


@api("kucoin", "prices")
def prices(request):
    """``GET /api/v1/prices`` (KuCoin's API docs; level A): fiat-style prices, here in USDT."""
    wanted = [code.strip().upper() for code in request.GET.get("currencies", "").split(",") if code.strip()]
    quoted = {**{code: item.price_usdt for code, item in CURRENCIES.items()}, **QUOTED_ONLY_USDT}
    return {code: text(price) for code, price in quoted.items() if not wanted or code in wanted}


@api("kucoin", "level1")
def level1(request):
    """``GET /api/v1/market/orderbook/level1`` (KuCoin's API docs; level A)."""
    base, _, quote = request.GET.get("symbol", "").upper().partition("-")
    base_usdt, quote_usdt = ticker_price_usdt(base), ticker_price_usdt(quote)
    if base_usdt is None or quote_usdt is None:
        raise kucoin_error("400100", "symbol not exists", status=400)
    price = base_usdt / quote_usdt
    price_text = text(price.quantize(Decimal("0.00000001")))
    return {
        "time": clock.now_ms(),
        "sequence": "1",
        "price": price_text,
        "size": "0.1",
        "bestBid": price_text,
        "bestBidSize": "1",
        "bestAsk": price_text,
        "bestAskSize": "1",
    }


def _format(record: HistoryRecord) -> dict:
    created = to_ms(record.time)
    if record.kind == HistoryRecord.Kind.TRADE:
        funds = record.price * record.amount
        return {
            "symbol": record.pair,
            "tradeId": record.txid,
            "orderId": record.details.get("orderId") or f"O{record.txid[1:]}",
            "side": record.side,
            "price": text(record.price),
            "size": text(record.amount),
            "funds": text(funds),
            "fee": text(record.fee),
            "feeCurrency": record.fee_currency,
            "liquidity": "taker",
            "type": "limit",
            "createdAt": created,
        }
    if record.kind == HistoryRecord.Kind.LEDGER:
        return {
            "id": record.txid,
            "currency": record.currency,
            "amount": text(abs(record.amount)),
            "fee": "0",
            "balance": text(record.balance_after),
            "accountType": "MAIN",
            "bizType": ledger_type("kucoin", record),
            "direction": "in" if record.amount >= 0 else "out",
            "createdAt": created,
            "context": json.dumps(record.details) if record.details else "",
        }
    item = {
        "currency": record.currency,
        "chain": record.chain,
        "status": withdrawal_status(record),
        "address": record.address,
        "memo": record.details.get("memo", ""),
        "amount": text(record.amount),
        "fee": text(record.fee),
        "walletTxId": record.txid,
        "isInner": record.details.get("isInner", False),
        "remark": record.details.get("remark", ""),
        "createdAt": created,
        "updatedAt": created,
    }
    if record.kind == HistoryRecord.Kind.WITHDRAWAL:
        item["id"] = record.txid
    return item


# Sources: KuCoin's API docs (Kucoin/kucoin-api-docs, source/localizable/index.html.md: Pagination, Get Account
# Ledgers, Get Deposit List, Get Withdrawals List, List Fills) and the universal SDK's spec
# (Kucoin/kucoin-universal-sdk, spec/rest/api/openapi-account-*.json, openapi-spot-order.json).
FILLS_SPAN = timedelta(days=7)  # "retrieve data up to one week (start from the last day by default)"
LEDGER_SPAN = timedelta(hours=24)  # "the start and end time range cannot exceed 24 hours"
LEDGER_KEPT = timedelta(days=365)  # "Support to obtain 1 year historical data"
HF_LEDGER_SPAN = timedelta(hours=3 * 24)  # Get Account Ledgers - Trade_hf: "a 3 * 24 hour time range"


def _range_refused(refused: RangeRefused):
    return kucoin_error("400100", str(refused), status=400)


def _capped_range(request, span: timedelta, default_span: timedelta) -> tuple[int, int]:
    try:
        return time_range(
            request.GET.get("startAt"),
            request.GET.get("endAt"),
            span=span,
            default_span=default_span,
            now_ms=clock.now_ms(),
        )
    except RangeRefused as refused:
        raise _range_refused(refused)


def _is_hf(record: HistoryRecord) -> bool:
    return bool(record.details.get("hf"))


def _history_view(kind: str, name: str):
    @api("kucoin", name, caller=kucoin_caller)
    def view(request, caller):
        require(caller, "API_COMMON")
        page = int_param(request, "currentPage", 1, low=1, high=10**9)
        size = int_param(request, "pageSize", 50, low=10, high=500)  # "Minimum is 10, maximum is 500"
        currency = request.GET.get("currency")
        if kind == HistoryRecord.Kind.TRADE:
            start, end = _capped_range(request, FILLS_SPAN, timedelta(hours=24))
        elif kind == HistoryRecord.Kind.LEDGER:
            start, end = _capped_range(request, LEDGER_SPAN, LEDGER_SPAN)
            start = max(start, clock.now_ms() - int(LEDGER_KEPT.total_seconds() * 1000))
        else:
            # currency is required in the SDK's spec; no range cap is documented (the sandbox takes any).
            if not currency:
                raise kucoin_error("400100", "currency is required.", status=400)
            start, end = request.GET.get("startAt"), request.GET.get("endAt")
        queryset = records(caller.user, kind, currency=currency, start_ms=start, end_ms=end)
        if kind in (HistoryRecord.Kind.TRADE, HistoryRecord.Kind.LEDGER):
            # HF (Pro) account fills are listed only by /api/v1/hf/fills, its ledger only by /api/v1/hf/accounts/ledgers
            # (this endpoint's accountType is MAIN, TRADE, MARGIN or CONTRACT: SDK spec openapi-account-account.json).
            # Not exclude(details__hf=True): on SQLite a missing key is NULL there, and NOT NULL drops the row.
            queryset = queryset.filter(Q(details__hf__isnull=True) | Q(details__hf=False))
            if request.GET.get("symbol"):
                queryset = queryset.filter(pair=request.GET["symbol"].upper())
        if request.GET.get("status") and kind in (HistoryRecord.Kind.DEPOSIT, HistoryRecord.Kind.WITHDRAWAL):
            wanted = request.GET["status"].upper()
            queryset = [record for record in queryset if withdrawal_status(record) == wanted]
            items, total = queryset[(page - 1) * size : page * size], len(queryset)
        else:
            items, total = offset_page(queryset, (page - 1) * size, size)
        return {
            "currentPage": page,
            "pageSize": size,
            "totalNum": total,
            "totalPage": -(-total // size),
            "items": [_format(record) for record in items],
        }

    return view


fills = _history_view(HistoryRecord.Kind.TRADE, "fills")
deposits = _history_view(HistoryRecord.Kind.DEPOSIT, "deposits")
withdrawal_list = _history_view(HistoryRecord.Kind.WITHDRAWAL, "withdrawals")
ledgers = _history_view(HistoryRecord.Kind.LEDGER, "ledgers")


@api("kucoin", "hf-fills", caller=kucoin_caller)
def hf_fills(request, caller):
    """GET /api/v1/hf/fills (SDK spec openapi-spot-order.json, Get Trade History): ``symbol`` required, ``limit``
    1–100 (default 20), ``lastId`` pages to older fills, answer ``{items, lastId}``. No range cap is documented."""
    require(caller, "API_COMMON")
    symbol = request.GET.get("symbol", "").upper()
    if not symbol:
        raise kucoin_error("400100", "symbol is required.", status=400)
    limit = int_param(request, "limit", 20, low=1, high=100)
    queryset = (
        records(
            caller.user, HistoryRecord.Kind.TRADE, start_ms=request.GET.get("startAt"), end_ms=request.GET.get("endAt")
        )
        .filter(details__hf=True, pair=symbol)
        .order_by("-id")
    )
    if request.GET.get("orderId"):
        queryset = queryset.filter(details__orderId=request.GET["orderId"])
    if request.GET.get("lastId"):
        queryset = queryset.filter(id__lt=int_param(request, "lastId", 0, low=0, high=2**62))
    items = list(queryset[:limit])
    return {
        "items": [{**_format(record), "id": record.pk} for record in items],
        "lastId": items[-1].pk if items else None,
    }


def _hf_ledger_range(request) -> tuple[int, int]:
    """startAt/endAt (ms) of the HF ledger: a range longer than 3 × 24 hours, or none, is not refused but read as
    the 3 × 24 hours up to now ("the system will default to data from within 3 * 24 hours")."""
    try:
        start, end = (int(request.GET[name]) if request.GET.get(name) else None for name in ("startAt", "endAt"))
    except ValueError:
        raise kucoin_error("400100", "startAt and endAt are milliseconds.", status=400)
    span_ms, now = int(HF_LEDGER_SPAN.total_seconds() * 1000), clock.now_ms()
    end = now if end is None else end
    start = end - span_ms if start is None else start
    if end - start > span_ms:
        return now - span_ms, now
    return start, end


@api("kucoin", "hf-ledgers", caller=kucoin_caller)
def hf_ledgers(request, caller):
    """GET /api/v1/hf/accounts/ledgers, "Get Account Ledgers - Trade_hf" (Kucoin/kucoin-universal-sdk
    spec/rest/api/openapi-account-account.json; Kucoin/kucoin-api-docs-hf source/localizable/index.html.md; level A):
    ``currency`` (up to 10, comma-separated), ``direction`` in/out, ``bizType``, ``lastId`` (rows with a smaller id),
    ``limit`` 1–200 (default 100), ``startAt``/``endAt`` within 3 × 24 hours; newest first by createdAt and id; the
    answer is the list itself, ``createdAt`` a string."""
    require(caller, "API_COMMON")
    limit = int_param(request, "limit", 100, low=1, high=200)
    start, end = _hf_ledger_range(request)
    queryset = records(caller.user, HistoryRecord.Kind.LEDGER, start_ms=start, end_ms=end).filter(details__hf=True)
    currencies = [code.strip().upper() for code in request.GET.get("currency", "").split(",") if code.strip()]
    if len(currencies) > 10:
        raise kucoin_error("400100", "At most 10 currencies.", status=400)
    if currencies:
        queryset = queryset.filter(currency__in=currencies)
    if request.GET.get("direction") in ("in", "out"):
        queryset = queryset.filter(**{"amount__gte" if request.GET["direction"] == "in" else "amount__lt": 0})
    if request.GET.get("bizType"):
        queryset = ledger_type_filter(queryset, "kucoin_hf", request.GET["bizType"])
    if request.GET.get("lastId"):
        queryset = queryset.filter(id__lt=int_param(request, "lastId", 0, low=0, high=2**62))
    return [
        {
            **_format(record),
            "id": str(record.pk),
            "accountType": "TRADE_HF",
            "tax": "0",
            "createdAt": str(to_ms(record.time)),
        }
        for record in queryset[:limit]
    ]


@api("kucoin", "hf-accounts-opened", caller=kucoin_caller)
def hf_accounts_opened(request, caller):
    """GET /api/v1/hf/accounts/opened (SDK spec openapi-account-account.json): true for a high-frequency user."""
    require(caller, "API_COMMON")
    return HistoryRecord.objects.filter(user=caller.user, details__hf=True).exists()


@api("kucoin", "symbols")
def symbols(request):
    """GET /api/v2/symbols (SDK spec openapi-spot-market.json), public: every pair of the sandbox's currencies
    quoted in USDT or BTC."""
    return [
        {
            "symbol": f"{base}-{quote}",
            "name": f"{base}-{quote}",
            "baseCurrency": base,
            "quoteCurrency": quote,
            "market": quote,
            "enableTrading": True,
        }
        for quote in ("USDT", "BTC")
        for base in CURRENCIES
        if base not in (quote, "USDT")
    ]


@api("kucoin", "withdraw", methods=("POST",), caller=kucoin_caller)
def withdraw(request, caller):
    """``POST /api/v3/withdrawals`` (KuCoin's universal SDK spec and ccxt, level A: toAddress, currency, amount,
    withdrawType required; feeDeductType INTERNAL = from the amount, EXTERNAL = from the main account), with the
    Fast API's two 2FA steps and the security-setup link of the broker guide section 8 (level C)."""
    require(caller, "API_WITHDRAW_OAUTH")
    params = json_object(request)
    if params is None:
        raise kucoin_error("400100", "The body must be a JSON object.", status=400)
    try:
        return kucoin_withdraw(caller.user, caller.api_key, params, sandbox_base_url=site_base(request, "kucoin-www"))
    except WithdrawalRefused as refused:
        headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else {}
        raise ApiRefused({"code": refused.code, "msg": refused.message}, refused.status, headers)


@api("kucoin", "withdrawal", caller=kucoin_caller)
def withdrawal_detail(request, caller, withdrawal_id):
    """``GET /api/v1/withdrawals/{withdrawalId}`` (KuCoin's API docs, "get withdrawal by id"; level A)."""
    require(caller, "API_COMMON")
    record = HistoryRecord.objects.filter(user=caller.user, kind="withdrawal", txid=withdrawal_id).first()
    if record is None:
        raise kucoin_error("400100", "withdrawal not found", status=404)
    return _format(record)


# --- deposit addresses ----------------------------------------------------------------------------------
# Kucoin/kucoin-universal-sdk spec/rest/api/openapi-account-deposit.json (level A): "Get Deposit Address (V3)"
# GET /api/v3/deposit-addresses and "Add Deposit Address (V3)" POST /api/v3/deposit-address/create, both with
# x-api-permission "General" (KuCoin's older docs, Kucoin/kucoin-api-docs, had "Transfer" for the V1 create; the
# V3 spec is newer and is followed). The answers' fields: address, memo, chainId, to, expirationDate, currency,
# contractAddress (the list only), chainName.


def _deposit_chain(found, chain_id: str):
    chain = found.chain(chain_id)
    if chain is None:
        raise kucoin_error("400100", f"chain {chain_id} is not supported for {found.code}.", status=400)
    return chain


def _deposit_item(found, chain, row, *, listed: bool) -> dict:
    item = {
        "address": row.address,
        "memo": row.memo,
        "chainId": chain.chain_id,
        "to": row.account_type or "MAIN",
        "expirationDate": 0,
        "currency": found.code,
        "chainName": chain.name,
    }
    return {**item, "contractAddress": ""} if listed else item


@api("kucoin", "deposit-addresses", caller=kucoin_caller)
def deposit_addresses(request, caller):
    """``currency`` required, ``chain`` optional; an empty list until an address is added ("If the returned data
    is empty, you may need to add the deposit address first")."""
    require(caller, "API_COMMON")
    if not request.GET.get("currency"):
        raise kucoin_error("400100", "currency is required.", status=400)
    found = find_currency(request.GET["currency"])
    if found is None:
        raise kucoin_error("900003", "Currency not found.", status=404)
    chains = [_deposit_chain(found, request.GET["chain"])] if request.GET.get("chain") else found.chains
    return [
        _deposit_item(found, chain, row, listed=True)
        for chain in chains
        for row in addresses(caller.user, found, chain)
    ]


@api("kucoin", "deposit-address-create", methods=("POST",), caller=kucoin_caller)
def deposit_address_create(request, caller):
    """JSON ``{currency, chain, to?: main|trade, amount?}`` (currency and chain required) -> the new address. A
    second address for the same currency and chain is refused (what KuCoin answers then is not documented: the
    code is the sandbox's choice)."""
    require(caller, "API_COMMON")
    body = json_object(request)
    if body is None or not body.get("currency") or not body.get("chain"):
        raise kucoin_error("400100", "currency and chain are required.", status=400)
    found = find_currency(str(body["currency"]))
    if found is None:
        raise kucoin_error("900003", "Currency not found.", status=404)
    chain = _deposit_chain(found, str(body["chain"]))
    account_type = str(body.get("to") or "main").lower()
    if account_type not in ("main", "trade"):
        raise kucoin_error("400100", "to must be main or trade.", status=400)
    if addresses(caller.user, found, chain).exists():
        raise kucoin_error("400100", "The deposit address already exists.", status=400)
    row = address_create(caller.user, found, chain, account_type=account_type.upper())
    return _deposit_item(found, chain, row, listed=False)


# --- spot orders ------------------------------------------------------------------------------------------
# Kucoin/kucoin-universal-sdk spec/rest/api/openapi-spot-order.json (level A; the same endpoints as
# Kucoin/kucoin-api-docs-hf): "Add Order" POST /api/v1/hf/orders and "Cancel Order By OrderId" DELETE
# /api/v1/hf/orders/{orderId}?symbol= (x-api-permission "Spot"), "Get Order By OrderId" GET
# /api/v1/hf/orders/{orderId}?symbol=, "Get Open Orders" GET /api/v1/hf/orders/active?symbol= and "Get Closed Orders"
# GET /api/v1/hf/orders/done?symbol= ({lastId, items}) (x-api-permission "General"). The answer's fields are the
# spec's; KuCoin reports no attribution on an order, so the partner headers the order came with are stored (for the
# sandbox's own tests) and not returned. Orders trade from the high-frequency trading account (trade_hf).


def _kucoin_refused(refused: trading.OrderRefused):
    if refused.kind == "balance":
        return kucoin_error("200004", "Balance insufficient!", status=400)
    if refused.kind == "not_found":
        return kucoin_error("400100", "order not exist.", status=400)
    return kucoin_error("400100", refused.message, status=400)


def _symbol_item(pair) -> dict:
    """Get Symbol (SDK spec openapi-spot-market.json, GET /api/v2/symbols/{symbol}; level A): its fields."""
    return {
        "symbol": pair.symbol,
        "name": pair.symbol,
        "baseCurrency": pair.base,
        "quoteCurrency": pair.quote,
        "feeCurrency": pair.quote,
        "market": pair.quote,
        "baseMinSize": text(pair.min_size),
        "quoteMinSize": text(pair.min_funds),
        "baseMaxSize": "10000000000",
        "quoteMaxSize": "99999999",
        "baseIncrement": text(pair.size_step),
        "quoteIncrement": text(pair.price_tick),
        "priceIncrement": text(pair.price_tick),
        "priceLimitRate": "0.1",
        "minFunds": text(pair.min_funds),
        "isMarginEnabled": False,
        "enableTrading": True,
    }


@api("kucoin", "symbol")
def symbol_detail(request, symbol):
    try:
        return _symbol_item(trading.pair_of(symbol))
    except trading.OrderRefused:
        raise kucoin_error("400100", "symbol not exists", status=400)


@api("kucoin", "trade-fees", caller=kucoin_caller)
def trade_fees(request, caller):
    """ "Get Actual Fee - Spot/Margin" GET /api/v1/trade-fees?symbols= (SDK spec openapi-account-fee.json,
    x-api-permission "General"; at most 10 symbols): [{symbol, takerFeeRate, makerFeeRate}]."""
    require(caller, "API_COMMON")
    wanted = [item for item in request.GET.get("symbols", "").upper().split(",") if item]
    if not wanted or len(wanted) > 10:
        raise kucoin_error("400100", "symbols: 1 to 10 symbols.", status=400)
    maker, taker = trading.FEE_RATES["kucoin"]
    return [
        {"symbol": symbol, "takerFeeRate": text(taker), "makerFeeRate": text(maker)}
        for symbol in wanted
        if symbol in trading.PAIRS
    ]


def _order_item(order) -> dict:
    active = order.status == "open"
    return {
        "id": order.order_id,
        "clientOid": order.client_order_id,
        "symbol": order.symbol,
        "opType": "DEAL",
        "type": order.type,
        "side": order.side,
        "price": text(order.price or Decimal(0)),
        "size": text(order.size),
        "funds": text((order.price or Decimal(0)) * order.size),
        "dealSize": text(order.filled_size),
        "dealFunds": text(order.funds),
        "fee": text(order.fee),
        "feeCurrency": order.fee_currency or order.symbol.split("-")[1],
        "stp": "",
        "timeInForce": "GTC",
        "postOnly": False,
        "hidden": False,
        "iceberg": False,
        "visibleSize": "0",
        "cancelAfter": 0,
        "channel": "API",
        "remark": "",
        "tags": "",
        "cancelExist": order.status == "cancelled",
        "tradeType": "TRADE",
        "inOrderBook": active,
        "active": active,
        "tax": "0",
        "createdAt": to_ms(order.created_at),
        "lastUpdatedAt": to_ms(order.updated_at),
    }


@api("kucoin", "hf-orders", methods=("POST",), caller=kucoin_caller)
def hf_order_add(request, caller):
    """Add Order: clientOid, side, symbol, type (limit: price and size; market: size or funds), timeInForce; the
    answer {orderId, clientOid}. The sandbox requires clientOid (the HF docs do) and takes market orders by size."""
    require(caller, "API_SPOT")
    body = json_object(request)
    if body is None:
        raise kucoin_error("400100", "The body must be a JSON object.", status=400)
    if not body.get("clientOid") or len(str(body["clientOid"])) > 40:
        raise kucoin_error("400100", "clientOid is required (at most 40 characters).", status=400)
    headers = request.headers
    try:
        order = trading.order_place(
            user=caller.user,
            symbol=str(body.get("symbol") or ""),
            side=str(body.get("side") or ""),
            type=str(body.get("type") or ""),
            size=trading.amount(body.get("size")),
            price=trading.amount(body.get("price")) if body.get("type") == "limit" else None,
            client_order_id=str(body["clientOid"]),
            attribution={
                "partner": headers.get("KC-API-PARTNER", ""),
                "broker_name": headers.get("KC-BROKER-NAME", ""),
                "verify": headers.get("KC-API-PARTNER-VERIFY", ""),
            },
        )
    except trading.OrderRefused as refused:
        raise _kucoin_refused(refused)
    return {"orderId": order.order_id, "clientOid": order.client_order_id}


@api("kucoin", "hf-order", methods=("GET", "DELETE"), caller=kucoin_caller)
def hf_order(request, caller, order_id):
    """Get Order By OrderId (GET, "General") or Cancel Order By OrderId (DELETE, "Spot", answer {orderId});
    ``symbol`` required for both."""
    require(caller, "API_SPOT" if request.method == "DELETE" else "API_COMMON")
    if not request.GET.get("symbol"):
        raise kucoin_error("400100", "symbol is required.", status=400)
    try:
        order = trading.order_find(caller.user, order_id=order_id)
        if order.symbol != request.GET["symbol"].upper():
            raise trading.OrderRefused("not_found", "order not exist.")
        if request.method == "DELETE":
            return {"orderId": trading.order_cancel(order).order_id}
    except trading.OrderRefused as refused:
        raise _kucoin_refused(refused)
    return _order_item(order)


@api("kucoin", "hf-order-by-client-oid", caller=kucoin_caller)
def hf_order_by_client_oid(request, caller, client_oid):
    """Get Order By ClientOid: GET /api/v1/hf/orders/client-order/{clientOid}?symbol= ("General")."""
    require(caller, "API_COMMON")
    try:
        order = trading.order_find(caller.user, client_order_id=client_oid)
        if order.symbol != request.GET.get("symbol", "").upper():
            raise trading.OrderRefused("not_found", "order not exist.")
    except trading.OrderRefused as refused:
        raise _kucoin_refused(refused)
    return _order_item(order)


@api("kucoin", "hf-orders-active", caller=kucoin_caller)
def hf_orders_active(request, caller):
    """Get Open Orders: ``symbol`` required; the list itself."""
    require(caller, "API_COMMON")
    if not request.GET.get("symbol"):
        raise kucoin_error("400100", "symbol is required.", status=400)
    return [_order_item(order) for order in trading.orders(caller.user, symbol=request.GET["symbol"], open_only=True)]


@api("kucoin", "hf-orders-active-symbols", caller=kucoin_caller)
def hf_orders_active_symbols(request, caller):
    """Get Symbols With Open Order: GET /api/v1/hf/orders/active/symbols ("General"; SDK spec
    openapi-spot-order.json): {symbols: [...]}, the pairs holding an open order."""
    require(caller, "API_COMMON")
    symbols = trading.orders(caller.user, open_only=True).values_list("symbol", flat=True)
    return {"symbols": sorted(set(symbols))}


@api("kucoin", "hf-orders-done", caller=kucoin_caller)
def hf_orders_done(request, caller):
    """Get Closed Orders: ``symbol`` required, ``limit`` 1–100 (default 20), ``lastId`` pages to older ones."""
    require(caller, "API_COMMON")
    if not request.GET.get("symbol"):
        raise kucoin_error("400100", "symbol is required.", status=400)
    limit = int_param(request, "limit", 20, low=1, high=100)
    found = trading.orders(caller.user, symbol=request.GET["symbol"], open_only=False)
    if request.GET.get("lastId"):
        found = found.filter(pk__lt=int_param(request, "lastId", 0, low=0, high=2**62))
    items = list(found[:limit])
    return {"lastId": items[-1].pk if items else None, "items": [_order_item(order) for order in items]}
