"""OKX: Fast API keys over the OAuth token, and the signed v5 REST endpoints."""

import functools
import re
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.views.decorators.csrf import csrf_exempt

from .. import clock
from ..api_auth import OKX_TOKEN_REFUSALS, bearer_caller, okx_caller, okx_error
from ..deposits import address_or_create
from ..exchanges import CURRENCIES, currency as find_currency
from ..http import json_object, json_response
from ..history import cursor_page, records, text, to_ms
from ..models import ApiKey, Balance, HistoryRecord
from .common import api, int_param

FAST_API_PERMS = ("read_only", "trade")  # INTEGRATION_GUIDE.md step 5
PASSPHRASE_RULE = re.compile(r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9]).{8,32}$")


def regional_domain(request) -> str:
    """The host the authorization callback names in ``domain`` for the user's later calls: SANDBOX_OKX_DOMAIN
    where set (a user of another region, e.g. "127.0.0.1:8765" while the broker's base URL says
    "localhost:8765"), else the host the sandbox was reached at."""
    return getattr(settings, "SANDBOX_OKX_DOMAIN", "") or request.get_host()


def on_regional_host(view):
    """Where SANDBOX_OKX_DOMAIN is set, the user's calls (token, refresh, revoke, keys, signed) are answered only
    on that host, as a regional site's would be: a client that ignores the callback's domain is refused."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        domain = getattr(settings, "SANDBOX_OKX_DOMAIN", "")
        if domain and request.get_host() != domain:
            return json_response({"code": "53020", "msg": f"This account's calls go to {domain}.", "data": []},
                                 status=403)
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
    return ApiKey.objects.filter(exchange="okx", user=caller.user, client=caller.token.client,
                                 deleted_at__isnull=True).first()


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
        raise okx_error("51000", "Parameter passphrase error: 8-32 characters with upper, lower, digit and special.", status=400)
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
        exchange="okx", user=caller.user, client=client, name=label, api_key=str(uuid.uuid4()),
        secret=secrets.token_hex(16).upper(), passphrase=passphrase, permissions=[perm],
        ip_allowlist=list(client.ip_allowlist) if bind_app else [], created_at=clock.now(),
    )
    return {"label": key.name, "apiKey": key.api_key, "secretKey": key.secret, "passphrase": key.passphrase,
            "perm": perm, "bindApp": bind_app}


# Source: INTEGRATION_GUIDE.md step 4 and backend/okx_client.py delete_oauth_apikey: POST with the Bearer token only
# (no body names a key: a broker has one key per user) → {"code":"0","data":[{"result":true}]}; 59506 "API Key does
# not exist" when there is none.
@api("okx", "delete-apikey", methods=("POST",), caller=token_caller)
def apikey_delete(request, caller):
    deleted = ApiKey.objects.filter(exchange="okx", user=caller.user, client=caller.token.client,
                                    deleted_at__isnull=True).update(deleted_at=clock.now())
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
    rows = [row for row in Balance.objects.filter(user=caller.user).order_by("currency") if not wanted or row.currency in wanted]
    details = []
    for row in rows:
        usd = row.available * CURRENCIES[row.currency].price_usdt if row.currency in CURRENCIES else Decimal("0")
        details.append({"ccy": row.currency, "availBal": text(row.available), "cashBal": text(row.available),
                        "eq": text(row.available), "frozenBal": "0", "eqUsd": text(usd)})
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
        {"ccy": code, "name": item.full_name, "chain": f"{code}-{chain.name}", "minWd": text(chain.withdrawal_min_size),
         "minFee": text(chain.withdrawal_fee), "maxFee": text(chain.withdrawal_fee), "wdTickSz": str(item.precision),
         "minDep": text(chain.deposit_min_size), "needTag": chain.memo_required,
         "canWd": True, "canDep": True, "canInternal": True}
        for code, item in CURRENCIES.items() if not wanted or code in wanted
        for chain in item.chains
    ]


# Source: okx/builder-integration-demo backend/okx_client.py get_ticker (public, data[0].last).
@api("okx", "ticker")
def ticker(request):
    base, _, quote = request.GET.get("instId", "").upper().partition("-")
    if base not in CURRENCIES or quote not in CURRENCIES:
        raise okx_error("51001", "Instrument ID does not exist.", status=400)
    last = text((CURRENCIES[base].price_usdt / CURRENCIES[quote].price_usdt).quantize(Decimal("0.00000001")))
    return [{"instType": "SPOT", "instId": f"{base}-{quote}", "last": last, "askPx": last, "bidPx": last,
             "open24h": last, "ts": str(clock.now_ms())}]


def _format(record: HistoryRecord) -> dict:
    ts = str(to_ms(record.time))
    if record.kind == HistoryRecord.Kind.TRADE:
        return {"instType": "SPOT", "instId": record.pair, "tradeId": record.txid, "ordId": f"O{record.txid[1:]}",
                "billId": str(record.pk), "side": record.side, "fillPx": text(record.price), "fillSz": text(record.amount),
                "fee": text(-record.fee), "feeCcy": record.fee_currency, "execType": "T", "ts": ts}
    if record.kind == HistoryRecord.Kind.LEDGER:
        return {"billId": str(record.pk), "ccy": record.currency, "balChg": text(record.amount),
                "bal": text(record.balance_after), "type": record.entry_type, "ts": ts}
    chain = f"{record.currency}-{CURRENCIES[record.currency].chain(record.chain).name}" if record.chain else ""
    item = {"ccy": record.currency, "chain": chain, "amt": text(record.amount), "txId": record.txid, "ts": ts,
            "state": "2" if record.status == "SUCCESS" else "1"}
    if record.kind == HistoryRecord.Kind.DEPOSIT:
        return {**item, "to": record.address, "depId": str(record.pk)}
    return {**item, "to": record.address, "fee": text(record.fee), "wdId": str(record.pk)}


def _history_view(kind: str, name: str, cursor_field: str, *, kept: timedelta | None = None,
                  inst_type_required: bool = False):
    """``after``/``before`` cursors, ``limit`` ≤ 100 (default 100), ``begin``/``end`` (ms); rows older than ``kept``
    are not there (that endpoint does not hold them)."""

    @api("okx", name, caller=okx_caller)
    def view(request, caller):
        require_read(caller)
        if inst_type_required and not request.GET.get("instType"):
            raise okx_error("51000", "Parameter instType can not be empty.", status=400)
        limit = int_param(request, "limit", 100, low=1, high=100)
        queryset = records(caller.user, kind, currency=request.GET.get("ccy"), start_ms=request.GET.get("begin"),
                           end_ms=request.GET.get("end"))
        if kept is not None:
            queryset = queryset.filter(time__gte=clock.now() - kept)
        rows = cursor_page(queryset, cursor_field, after=request.GET.get("after"), before=request.GET.get("before"), limit=limit)
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
        item = {"addr": row.address, "ccy": found.code, "chain": f"{found.code}-{chain.name}", "to": "6",
                "selected": index == 0, "ctAddr": "", "verifiedName": ""}
        items.append({**item, "memo": row.memo} if chain.memo_required else item)
    return items
