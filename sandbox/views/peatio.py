"""The Peatio-style exchange: APIv2 signed with the user token's access/secret key pair."""

import json
from datetime import UTC, datetime

from django.views.decorators.csrf import csrf_exempt

from .. import faults
from ..api_auth import peatio_caller, peatio_error
from ..deposits import address_create, address_generated, addresses
from ..exchanges import CURRENCIES
from ..history import records, text
from ..http import json_response
from ..models import Balance, HistoryRecord
from ..oauth import bearer_value, doorkeeper_revoke
from .common import api

# Which OAuth scope each resource needs.
SCOPE_PROFILE, SCOPE_HISTORY = "profile", "history"


def require(caller, scope: str) -> None:
    # hpyhacking/peatio app/api/api_v2/errors.rb: OutOfScopeError is code 2011 with HTTP 401.
    if not caller.allows(scope):
        raise peatio_error(2011, "Requested API is out of access key scopes.")


# Doorkeeper 1.4's POST /oauth/revoke (doorkeeper-gem/doorkeeper v1.4.1 app/controllers/doorkeeper/
# tokens_controller.rb#revoke): the access token comes as Doorkeeper's access_token_methods find it (default,
# as Peatio's config/initializers/doorkeeper.rb keeps it: Authorization: Bearer, then the access_token and
# bearer_token parameters); the token to revoke is the form's ``token``. The answer is {} with HTTP 200
# whatever happened.
@csrf_exempt
@faults.endpoint("peatio", "revoke")
def revoke(request):
    if request.method != "POST":
        return json_response({"error": "invalid_request"}, status=405)
    presented = (
        bearer_value(request.headers.get("Authorization", ""))
        or request.POST.get("access_token")
        or request.GET.get("access_token")
        or request.POST.get("bearer_token")
        or request.GET.get("bearer_token")
        or ""
    )
    doorkeeper_revoke("peatio", presented, request.POST.get("token", ""))
    return json_response({})


# hpyhacking/peatio (before 2017-12-22) app/api/api_v2/members.rb: GET /api/v2/members/me, scope profile,
# presented with entities/member.rb (sn, name, email, activated, accounts) and entities/account.rb
# (currency, balance, locked as decimal strings).
@api("peatio", "members-me", caller=peatio_caller)
def members_me(request, caller):
    require(caller, SCOPE_PROFILE)
    user = caller.user
    return {
        "sn": f"SN{user.uid}",
        "name": user.email.split("@")[0],
        "email": user.email,
        "activated": True,
        "accounts": [
            {"currency": row.currency.lower(), "balance": text(row.available), "locked": "0"}
            for row in Balance.objects.filter(user=user).order_by("currency")
        ],
    }


# Sources: hpyhacking/peatio as it was while it had OAuth (before 2017-12-22): app/api/api_v2/markets.rb, trades.rb,
# deposits.rb, named_params.rb (:market, :trade_filters), entities/{market,trade,deposit}.rb, errors.rb (a parameter
# the validation refuses: {"error": {"code": 1001, "message"}}, HTTP 400), app/models/deposit.rb (states). No
# withdrawals endpoint existed then.
DEPOSIT_STATES = ("submitting", "cancelled", "submitted", "rejected", "accepted", "checked", "warning")


def _invalid(message: str):
    return peatio_error(1001, message, status=400)


def _pairs() -> dict[str, str]:
    """Market id ("btcusdt") -> the sandbox's pair ("BTC-USDT")."""
    return {
        f"{base}{quote}".lower(): f"{base}-{quote}"
        for quote in ("USDT", "BTC")
        for base in CURRENCIES
        if base not in (quote, "USDT")
    }


def _markets() -> list[dict]:
    return [{"id": market, "name": pair.replace("-", "/")} for market, pair in _pairs().items()]


def _created(record: HistoryRecord) -> str:
    return record.time.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _int(request, name: str, default: int | None, low: int, high: int) -> int | None:
    value = request.GET.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise _invalid(f"{name} is invalid")
    if not low <= number <= high:
        raise _invalid(f"{name} does not have a valid value")
    return number


@api("peatio", "markets")
def markets(request):
    """GET /api/v2/markets: every market, ``{id: "btcusdt", name}``."""
    return _markets()


@api("peatio", "trades-my", caller=peatio_caller)
def trades_my(request, caller):
    """GET /api/v2/trades/my: ``market`` required (one of /api/v2/markets); ``limit`` 1–1000 (default 50);
    ``timestamp`` (seconds: trades at or before it), ``from``/``to`` (trade ids: after / before), ``order_by``."""
    # Grape validates the parameters before the endpoint runs (and checks the scope).
    market = request.GET.get("market", "")
    if not market:
        raise _invalid("market is missing")
    if market not in _pairs():
        raise _invalid("market does not have a valid value")
    limit = _int(request, "limit", 50, 1, 1000)
    order = request.GET.get("order_by", "desc")
    if order not in ("asc", "desc"):
        raise _invalid("order_by does not have a valid value")
    require(caller, SCOPE_HISTORY)
    rows = records(caller.user, HistoryRecord.Kind.TRADE).filter(pair=_pairs()[market])
    timestamp, after, before = (_int(request, name, None, 0, 2**62) for name in ("timestamp", "from", "to"))
    if timestamp is not None:
        rows = rows.filter(time__lte=datetime.fromtimestamp(timestamp, tz=UTC))
    if after is not None:
        rows = rows.filter(pk__gt=after)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    rows = rows.order_by("-id" if order == "desc" else "id")
    return [
        {
            "id": record.pk,
            "price": text(record.price),
            "volume": text(record.amount),
            "funds": text(record.price * record.amount),
            "market": market,
            "created_at": _created(record),
            "side": "bid" if record.side == "buy" else "ask",
            "order_id": int(record.pk) * 10,
        }
        for record in rows[:limit]
    ]


def _deposit_state(record: HistoryRecord) -> str:
    return record.details.get("peatio_state") or ("accepted" if record.status == "SUCCESS" else "submitted")


@api("peatio", "deposits", caller=peatio_caller)
def deposits(request, caller):
    """GET /api/v2/deposits: ``currency`` (a known one), ``limit`` 1–100 (default 3), ``state``; the newest only:
    no page, no time range."""
    currency = request.GET.get("currency")
    if currency and currency.upper() not in CURRENCIES:
        raise _invalid("currency does not have a valid value")
    limit = _int(request, "limit", 3, 1, 100)
    state = request.GET.get("state")
    if state and state not in DEPOSIT_STATES:
        raise _invalid("state does not have a valid value")
    require(caller, SCOPE_HISTORY)
    rows = [
        record
        for record in records(caller.user, HistoryRecord.Kind.DEPOSIT, currency=currency)
        if not state or _deposit_state(record) == state
    ][:limit]
    return [
        {
            "id": record.pk,
            "currency": record.currency.lower(),
            "amount": text(record.amount),
            "fee": text(record.fee),
            "txid": record.txid,
            "created_at": _created(record),
            "confirmations": CURRENCIES[record.currency].chains[0].confirmations,
            "done_at": _created(record),
            "state": _deposit_state(record),
        }
        for record in rows
    ]


# hpyhacking/peatio (2015-03-31 "add /api/v2/deposit_address", unchanged until Doorkeeper went on 2017-12-22)
# app/api/api_v2/deposits.rb: GET /api/v2/deposit_address, ``currency`` required among Currency.all's codes (lower
# case; another value is Grape's validation error, 1001 with HTTP 400), no scope of its own (a route without
# ``scopes:`` passes APIToken#in_scopes?). It answers ``payment_address.to_json`` ({account_id, deposit_address},
# app/models/payment_address.rb#as_json) returned as a String, which Grape's JSON formatter (0.7.0 and 1.0.1:
# lib/grape/formatter/json.rb, ``object.to_json``) encodes once more: the body is a JSON string holding the JSON
# object. The first call creates the payment address, whose address a queue fills in later ("The address field
# could be empty when a new address is generating ... try again later"): here it is there from the next call on.
@api("peatio", "deposit-address", caller=peatio_caller)
def deposit_address(request, caller):
    code = request.GET.get("currency", "")
    found = CURRENCIES.get(code.upper()) if code == code.lower() else None
    if found is None:
        raise peatio_error(1001, "currency does not have a valid value", status=400)
    chain = found.chains[0]  # one address per currency: Peatio has no networks
    row = addresses(caller.user, found, chain).first()
    if row is None:
        row = address_create(caller.user, found, chain, pending=True)
    elif not row.address:
        row = address_generated(row, chain)
    answer = {
        "account_id": caller.user.balances.filter(currency=found.code).values_list("pk", flat=True).first(),
        "deposit_address": row.address or None,
    }
    return json.dumps(answer, separators=(",", ":"))
