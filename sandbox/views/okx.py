"""OKX: Fast API keys over the OAuth token, and the signed v5 REST endpoints."""

import functools
import re
import secrets
import uuid
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.views.decorators.csrf import csrf_exempt

from .. import clock, trading
from ..api_auth import OKX_TOKEN_REFUSALS, ApiRefused, bearer_caller, okx_caller, okx_error
from ..deposits import address_or_create
from ..exchanges import CURRENCIES, ticker_price_usdt
from ..exchanges import currency as find_currency
from ..history import cursor_page, from_ms, ledger_type, records, text, to_ms
from ..http import json_object, json_response
from ..models import ApiKey, Balance, HistoryRecord
from .common import api, int_param

FAST_API_PERMS = ("read_only", "trade")  # INTEGRATION_GUIDE.md step 5
PASSPHRASE_RULE = re.compile(r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9]).{8,32}$")


def regional_domain(request) -> str:
    """The host the authorization callback names in ``domain`` for the user's later calls: SANDBOX_OKX_DOMAIN
    where set (a user of another region, e.g. "127.0.0.1:8765" while the broker's base URL says
    "localhost:8765"), else the host the sandbox was reached at."""
    return settings.SANDBOX_OKX_DOMAIN or request.get_host()


def on_regional_host(view):
    """Where SANDBOX_OKX_DOMAIN is set, the user's calls (token, refresh, revoke, keys, signed) are answered only
    on that host, as a regional site's would be: a client that ignores the callback's domain is refused."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        domain = settings.SANDBOX_OKX_DOMAIN
        if domain and request.get_host() != domain:
            return json_response(
                {"code": "53020", "msg": f"This account's calls go to {domain}.", "data": []}, status=403
            )
        return view(request, *args, **kwargs)

    return wrapper


def token_caller(request):
    """The Fast API endpoints take the OAuth access token as Bearer (INTEGRATION_GUIDE.md steps 4 and 5)."""
    caller = bearer_caller("okx", request, lambda reason: okx_error(*OKX_TOKEN_REFUSALS[reason]))
    if caller is None:
        raise okx_error("53004", "Authorization: Bearer <access token> is required.")
    if "fast_api" not in caller.token.scopes:
        raise okx_error("53017", "Fast API is not enabled for this authorization.", status=403)
    return caller


def json_body(request) -> dict:
    body = json_object(request)
    if body is None:
        raise okx_error("50002", "Json data format error.", status=400)
    return body


def active_key(caller):
    return ApiKey.objects.filter(
        exchange="okx", user=caller.user, client=caller.token.client, deleted_at__isnull=True
    ).first()


# Source: okx/builder-integration-demo, demos/third-party-fastapi/INTEGRATION_GUIDE.md step 5 and PITFALLS.md ("Error
# Codes"): JSON {label, passphrase (8-32, upper+lower+digit+special), perm ("read_only" or "trade"), bindApp} →
# data[0] = {label, apiKey, secretKey, passphrase, perm, bindApp}; 50117 not an API broker, 50116 one active key per
# user per broker, 50118 a bound key needs the broker's IP allowlist. The order of the checks is the sandbox's.
@api("okx", "apikey", methods=("POST",), caller=token_caller)
def apikey_create(request, caller):
    client = caller.token.client
    if not client.api_broker:
        raise okx_error("50117", "Only API Brokers can create Fast API Keys.", status=400)
    body = json_body(request)
    label = body.get("label")
    if not isinstance(label, str) or not 1 <= len(label) <= 50:
        raise okx_error("51000", "Parameter label error.", status=400)
    passphrase = body.get("passphrase")
    if not isinstance(passphrase, str) or not PASSPHRASE_RULE.match(passphrase):
        raise okx_error(
            "51000", "Parameter passphrase error: 8-32 characters with upper, lower, digit and special.", status=400
        )
    perm = body.get("perm")
    if perm not in FAST_API_PERMS or perm not in client.permissions:
        raise okx_error("51000", "Parameter perm error: read_only or trade, as the broker registered.", status=400)
    bind_app = body.get("bindApp")
    if not isinstance(bind_app, bool):
        raise okx_error("51000", "Parameter bindApp error.", status=400)
    if active_key(caller) is not None:
        raise okx_error("50116", "Fast API can create only one API Key.", status=400)
    if bind_app and not client.ip_allowlist:
        raise okx_error("50118", "Bound API Key requires Broker IP allowlist.", status=400)
    key = ApiKey.objects.create(
        exchange="okx",
        user=caller.user,
        client=client,
        name=label,
        api_key=str(uuid.uuid4()),
        secret=secrets.token_hex(16).upper(),
        passphrase=passphrase,
        permissions=[perm],
        ip_allowlist=list(client.ip_allowlist) if bind_app else [],
        created_at=clock.now(),
    )
    return {
        "label": key.name,
        "apiKey": key.api_key,
        "secretKey": key.secret,
        "passphrase": key.passphrase,
        "perm": perm,
        "bindApp": bind_app,
    }


# Source: INTEGRATION_GUIDE.md step 4 and backend/okx_client.py delete_oauth_apikey: POST with the Bearer token only
# (no body names a key: a broker has one key per user) → {"code":"0","data":[{"result":true}]}; 59506 "API Key does
# not exist" when there is none.
@api("okx", "delete-apikey", methods=("POST",), caller=token_caller)
def apikey_delete(request, caller):
    deleted = ApiKey.objects.filter(
        exchange="okx", user=caller.user, client=caller.token.client, deleted_at__isnull=True
    ).update(deleted_at=clock.now())
    if not deleted:
        raise okx_error("59506", "API Key does not exist.", status=400)
    return [{"result": True}]


def require_read(caller) -> None:
    if not (caller.allows("read_only") or caller.allows("trade")):
        raise okx_error("50120", "API key doesn't have permission.", status=403)


# Signed v5 REST (docs/OPENAPI_SIGNING.md of okx/builder-integration-demo; api_auth.okx_caller): a deleted or unknown
# key answers 50111 "Invalid OK-ACCESS-KEY" (okx/agent-trade-kit, packages/cli/src/commands/diagnose.ts). Balance
# fields as INTEGRATION_GUIDE.md step 6: data[0].totalEq, details[].ccy/eq/availBal.
@api("okx", "balance", caller=okx_caller)
def balance(request, caller):
    require_read(caller)
    wanted = [code for code in request.GET.get("ccy", "").upper().split(",") if code]
    rows = [
        row
        for row in Balance.objects.filter(user=caller.user).order_by("currency")
        if not wanted or row.currency in wanted
    ]
    details = []
    for row in rows:
        usd = row.available * CURRENCIES[row.currency].price_usdt if row.currency in CURRENCIES else Decimal("0")
        details.append(
            {
                "ccy": row.currency,
                "availBal": text(row.available),
                "cashBal": text(row.available),
                "eq": text(row.available),
                "frozenBal": "0",
                "eqUsd": text(usd),
            }
        )
    total = sum((Decimal(item["eqUsd"]) for item in details), Decimal("0"))
    return [{"totalEq": text(total), "uTime": str(clock.now_ms()), "details": details}]


# Source: C (exchange-docs/ENDPOINTS.md and the seed's field names); lenient. minDep (the minimum deposit) and
# needTag as docs-v5 "Get currencies" names them (transcribed copy: rosssaunders/coincise docs/okx/
# funding_account.md; B/C).
@api("okx", "currencies", caller=okx_caller)
def currencies(request, caller):
    require_read(caller)
    wanted = [code for code in request.GET.get("ccy", "").upper().split(",") if code]
    return [
        {
            "ccy": code,
            "name": item.full_name,
            "chain": f"{code}-{chain.name}",
            "minWd": text(chain.withdrawal_min_size),
            "minFee": text(chain.withdrawal_fee),
            "maxFee": text(chain.withdrawal_fee),
            "wdTickSz": str(item.precision),
            "minDep": text(chain.deposit_min_size),
            "needTag": chain.memo_required,
            "canWd": True,
            "canDep": True,
            "canInternal": True,
        }
        for code, item in CURRENCIES.items()
        if not wanted or code in wanted
        for chain in item.chains
    ]


# Source: okx/builder-integration-demo backend/okx_client.py get_ticker (public, data[0].last).
@api("okx", "ticker")
def ticker(request):
    base, _, quote = request.GET.get("instId", "").upper().partition("-")
    base_usdt, quote_usdt = ticker_price_usdt(base), ticker_price_usdt(quote)
    if base_usdt is None or quote_usdt is None:
        raise okx_error("51001", "Instrument ID does not exist.", status=400)
    last = text((base_usdt / quote_usdt).quantize(Decimal("0.00000001")))
    return [
        {
            "instType": "SPOT",
            "instId": f"{base}-{quote}",
            "last": last,
            "askPx": last,
            "bidPx": last,
            "open24h": last,
            "ts": str(clock.now_ms()),
        }
    ]


def _format(record: HistoryRecord) -> dict:
    ts = str(to_ms(record.time))
    if record.kind == HistoryRecord.Kind.TRADE:
        return {
            "instType": "SPOT",
            "instId": record.pair,
            "tradeId": record.txid,
            "ordId": record.details.get("orderId") or f"O{record.txid[1:]}",
            "billId": str(record.pk),
            "side": record.side,
            "fillPx": text(record.price),
            "fillSz": text(record.amount),
            "fee": text(-record.fee),
            "feeCcy": record.fee_currency,
            "execType": "T",
            "ts": ts,
        }
    if record.kind == HistoryRecord.Kind.LEDGER:
        return {
            "billId": str(record.pk),
            "ccy": record.currency,
            "balChg": text(record.amount),
            "bal": text(record.balance_after),
            "type": ledger_type("okx", record),
            "ts": ts,
        }
    chain = f"{record.currency}-{CURRENCIES[record.currency].chain(record.chain).name}" if record.chain else ""
    item = {
        "ccy": record.currency,
        "chain": chain,
        "amt": text(record.amount),
        "txId": record.txid,
        "ts": ts,
        "state": "2" if record.status == "SUCCESS" else "1",
    }
    if record.kind == HistoryRecord.Kind.DEPOSIT:
        return {**item, "to": record.address, "depId": str(record.pk)}
    return {**item, "to": record.address, "fee": text(record.fee), "wdId": str(record.pk)}


def _history_view(
    kind: str, name: str, cursor_field: str, *, kept: timedelta | None = None, inst_type_required: bool = False
):
    """``after``/``before`` cursors, ``limit`` ≤ 100 (default 100), ``begin``/``end`` (ms); rows older than ``kept``
    are not there (that endpoint does not hold them)."""

    @api("okx", name, caller=okx_caller)
    def view(request, caller):
        require_read(caller)
        if inst_type_required and not request.GET.get("instType"):
            raise okx_error("51000", "Parameter instType can not be empty.", status=400)
        limit = int_param(request, "limit", 100, low=1, high=100)
        queryset = records(
            caller.user,
            kind,
            currency=request.GET.get("ccy"),
            start_ms=request.GET.get("begin"),
            end_ms=request.GET.get("end"),
        )
        if kept is not None:
            queryset = queryset.filter(time__gte=clock.now() - kept)
        if kind == HistoryRecord.Kind.TRADE and request.GET.get("instId"):
            queryset = queryset.filter(pair=request.GET["instId"].upper())
        if kind == HistoryRecord.Kind.TRADE and request.GET.get("ordId"):
            queryset = queryset.filter(details__orderId=request.GET["ordId"])
        rows = cursor_page(
            queryset, cursor_field, after=request.GET.get("after"), before=request.GET.get("before"), limit=limit
        )
        return [_format(record) for record in rows]

    return view


# Sources: OKX's okx/agent-trade-kit (docs/modules/account.md, spot.md; packages/core/src/tools/account.ts,
# contract-trade.ts): bills = the last 7 days, bills-archive = up to 3 months; fills = the last 3 days,
# fills-history = up to 3 months (instType required). docs-v5 Funding account: deposit/withdrawal history page by
# ts (``after``: "records earlier than the requested ts", that millisecond excluded; ``before`` newer), limit ≤ 100,
# so rows of one millisecond can straddle two pages. Fills and bills page by billId.
RECENT_BILLS, RECENT_FILLS, ARCHIVE = timedelta(days=7), timedelta(days=3), timedelta(days=90)
fills = _history_view(HistoryRecord.Kind.TRADE, "fills", "id", kept=RECENT_FILLS)
fills_history = _history_view(HistoryRecord.Kind.TRADE, "fills-history", "id", kept=ARCHIVE, inst_type_required=True)
bills = _history_view(HistoryRecord.Kind.LEDGER, "bills", "id", kept=RECENT_BILLS)
bills_archive = _history_view(HistoryRecord.Kind.LEDGER, "bills-archive", "id", kept=ARCHIVE)
deposit_history = _history_view(HistoryRecord.Kind.DEPOSIT, "deposit-history", "time")
withdrawal_history = _history_view(HistoryRecord.Kind.WITHDRAWAL, "withdrawal-history", "time")


# Source: C (exchange-docs/ENDPOINTS.md "POST /api/v5/asset/withdrawal"); Fast API perms are read_only/trade only.
@api("okx", "withdrawal", methods=("POST",), caller=okx_caller)
def withdrawal(request, caller):
    # Fast API keys carry read_only/trade only, and OKX withdrawals need the withdraw permission.
    raise okx_error("50120", "API key doesn't have permission.", status=403)


# GET /api/v5/asset/deposit-address?ccy= (okxapi/python-okx okx/Funding.py get_deposit_address: ccy only; OKX's own
# SDK has no call that creates one, so an account has an address on every chain from the start). Read permission;
# fields as docs-v5 "Get deposit address" gives them (rosssaunders/coincise docs/okx/funding_account.md, a copy:
# B/C): addr, ccy, chain ("USDT-TRC20"), to ("6" funding account), selected, ctAddr, and memo or tag only where
# the chain has one. A missing or unknown ccy: 51000 (the sandbox's choice).
@api("okx", "deposit-address", caller=okx_caller)
def deposit_address(request, caller):
    require_read(caller)
    found = find_currency(request.GET.get("ccy", ""))
    if found is None:
        raise okx_error("51000", "Parameter ccy error.", status=400)
    items = []
    for index, chain in enumerate(found.chains):
        row = address_or_create(caller.user, found, chain)
        item = {
            "addr": row.address,
            "ccy": found.code,
            "chain": f"{found.code}-{chain.name}",
            "to": "6",
            "selected": index == 0,
            "ctAddr": "",
            "verifiedName": "",
        }
        items.append({**item, "memo": row.memo} if chain.memo_required else item)
    return items


# --- spot orders ------------------------------------------------------------------------------------------
# okxapi/python-okx okx/Trade.py and OKX's API docs (docs-v5, Trade; level A): place_order POST /api/v5/trade/order
# {instId, tdMode "cash" for spot, side, ordType market/limit, sz, px, clOrdId, tag}, cancel_order POST
# /api/v5/trade/cancel-order {instId, ordId|clOrdId}, get_order GET /api/v5/trade/order?instId&ordId|clOrdId,
# get_order_list GET /api/v5/trade/orders-pending, get_orders_history GET /api/v5/trade/orders-history (instType
# required, the last 7 days); PublicData.py get_instruments GET /api/v5/public/instruments (tickSz, lotSz, minSz);
# Account.py get_fee_rates GET /api/v5/account/trade-fee (maker/taker, negative for a fee charged). The broker
# code goes in ``tag`` (EVIDENCE.md; okx/builder-integration-demo): stored and returned on every order. clOrdId and
# tag: "case-sensitive alphanumerics, all numbers, or all letters", up to 32 and 16 characters.
CL_ORD_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
TAG = re.compile(r"^[A-Za-z0-9]{1,16}$")
OKX_STATES = {"open": "live", "filled": "filled", "cancelled": "canceled"}


def require_trade(caller) -> None:
    if not caller.allows("trade"):
        raise okx_error("50120", "API key doesn't have permission.", status=403)


def _okx_refusal_code(refused: trading.OrderRefused) -> str:
    return {
        "balance": "51008",
        "symbol": "51001",
        "not_found": "51603",
        "not_open": "51400",
        "duplicate": "51016",
        "min_size": "51020",
    }.get(refused.kind, "51000")


def _instrument(pair) -> dict:
    return {
        "instType": "SPOT",
        "instId": pair.symbol,
        "baseCcy": pair.base,
        "quoteCcy": pair.quote,
        "tickSz": text(pair.price_tick),
        "lotSz": text(pair.size_step),
        "minSz": text(pair.min_size),
        "state": "live",
        "listTime": "1606468572000",
    }


@api("okx", "instruments")
def instruments(request):
    """Public: instType required (SPOT here), instId optional."""
    if request.GET.get("instType") != "SPOT":
        raise okx_error("51000", "Parameter instType error: the sandbox lists SPOT.", status=400)
    wanted = request.GET.get("instId", "").upper()
    return [_instrument(pair) for symbol, pair in trading.PAIRS.items() if not wanted or symbol == wanted]


@api("okx", "trade-fee", caller=okx_caller)
def trade_fee(request, caller):
    require_read(caller)
    if request.GET.get("instType") != "SPOT":
        raise okx_error("51000", "Parameter instType error.", status=400)
    maker, taker = trading.FEE_RATES["okx"]
    return [
        {"instType": "SPOT", "level": "Lv1", "maker": text(-maker), "taker": text(-taker), "ts": str(clock.now_ms())}
    ]


def _order_item(order) -> dict:
    fill_px = text(order.funds / order.filled_size) if order.filled_size else ""
    return {
        "instType": "SPOT",
        "instId": order.symbol,
        "ccy": "",
        "ordId": order.order_id,
        "clOrdId": order.client_order_id,
        "tag": order.attribution.get("tag", ""),
        "px": text(order.price) if order.price is not None else "",
        "sz": text(order.size),
        "ordType": order.type,
        "side": order.side,
        "tdMode": "cash",
        "accFillSz": text(order.filled_size),
        "fillPx": fill_px,
        "fillSz": text(order.filled_size),
        "avgPx": fill_px,
        "tradeId": order.trade_id,
        "state": OKX_STATES[order.status],
        "fee": text(-order.fee),
        "feeCcy": order.fee_currency,
        "uTime": str(to_ms(order.updated_at)),
        "cTime": str(to_ms(order.created_at)),
    }


def _order_failed(code: str, message: str, body: dict) -> ApiRefused:
    return ApiRefused(
        {
            "code": "1",
            "msg": "All operations failed",
            "data": [
                {
                    "ordId": "",
                    "clOrdId": body.get("clOrdId", ""),
                    "tag": body.get("tag", ""),
                    "sCode": code,
                    "sMsg": message,
                    "ts": str(clock.now_ms()),
                }
            ],
        },
        200,
    )


@api("okx", "order-place", methods=("POST",), caller=okx_caller)
def order_place(request, caller):
    require_trade(caller)
    body = json_object(request)
    if body is None:
        raise okx_error("50002", "Invalid JSON body.", status=400)
    if body.get("tdMode") != "cash":
        raise _order_failed("51000", "Parameter tdMode error: spot orders are cash.", body)
    cl_ord_id, tag = str(body.get("clOrdId") or ""), str(body.get("tag") or "")
    if (cl_ord_id and not CL_ORD_ID.match(cl_ord_id)) or (tag and not TAG.match(tag)):
        raise _order_failed("51000", "Parameter clOrdId or tag error.", body)
    size = trading.amount(body.get("sz"))
    pair = trading.PAIRS.get(str(body.get("instId") or "").upper())
    if (
        body.get("ordType") == "market"
        and body.get("side") == "buy"
        and body.get("tgtCcy") != "base_ccy"
        and size
        and pair
    ):
        # A spot market buy's sz is in the quote currency unless tgtCcy is base_ccy (docs-v5 "Place order").
        size = (size / pair.price).quantize(pair.size_step, rounding=ROUND_DOWN)
    try:
        order = trading.order_place(
            user=caller.user,
            symbol=str(body.get("instId") or ""),
            side=str(body.get("side") or ""),
            type=str(body.get("ordType") or ""),
            size=size,
            price=trading.amount(body.get("px")) if body.get("ordType") == "limit" else None,
            client_order_id=cl_ord_id,
            attribution={"tag": tag},
        )
    except trading.OrderRefused as refused:
        raise _order_failed(_okx_refusal_code(refused), refused.message, body)
    return [
        {
            "ordId": order.order_id,
            "clOrdId": order.client_order_id,
            "tag": tag,
            "sCode": "0",
            "sMsg": "Order placed",
            "ts": str(clock.now_ms()),
        }
    ]


def _find(caller, params):
    if not params.get("instId"):
        raise okx_error("51000", "Parameter instId can not be empty.", status=400)
    try:
        order = trading.order_find(
            caller.user, order_id=str(params.get("ordId") or ""), client_order_id=str(params.get("clOrdId") or "")
        )
    except trading.OrderRefused as refused:
        raise okx_error("51603", refused.message, status=200)
    if order.symbol != str(params["instId"]).upper():
        raise okx_error("51603", "Order does not exist.", status=200)
    return order


@api("okx", "order-cancel", methods=("POST",), caller=okx_caller)
def order_cancel(request, caller):
    require_trade(caller)
    body = json_object(request) or {}
    order = _find(caller, body)
    try:
        trading.order_cancel(order)
    except trading.OrderRefused as refused:
        raise _order_failed(_okx_refusal_code(refused), refused.message, body)
    return [
        {"ordId": order.order_id, "clOrdId": order.client_order_id, "sCode": "0", "sMsg": "", "ts": str(clock.now_ms())}
    ]


@api("okx", "order", caller=okx_caller)
def order_detail(request, caller):
    require_read(caller)
    return [_order_item(_find(caller, request.GET))]


@csrf_exempt
def order_route(request):
    """/api/v5/trade/order: POST places an order, GET reads one."""
    return order_place(request) if request.method == "POST" else order_detail(request)


def _order_list(open_only: bool, name: str):
    @api("okx", name, caller=okx_caller)
    def view(request, caller):
        require_read(caller)
        if not open_only and request.GET.get("instType") != "SPOT":
            raise okx_error("51000", "Parameter instType can not be empty.", status=400)
        limit = int_param(request, "limit", 100, low=1, high=100)
        found = trading.orders(caller.user, symbol=request.GET.get("instId", ""), open_only=open_only)
        if not open_only:
            found = found.filter(updated_at__gte=clock.now() - RECENT_BILLS)  # "the last 7 days"
            if request.GET.get("begin"):  # ms, on the order's creation time (python-okx Trade.py get_orders_history)
                found = found.filter(created_at__gte=from_ms(int_param(request, "begin", 0, low=0, high=2**62)))
        return [_order_item(order) for order in found[:limit]]

    return view


orders_pending = _order_list(True, "orders-pending")
orders_history = _order_list(False, "orders-history")
