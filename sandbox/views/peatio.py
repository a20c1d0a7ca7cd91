"""The Peatio-style exchange: APIv2 signed with the user token's access/secret key pair."""

from django.views.decorators.csrf import csrf_exempt

from .. import faults
from ..api_auth import peatio_caller, peatio_error
from ..exchanges import CURRENCIES
from ..funds import withdrawal_status
from ..history import offset_page, records, text
from ..http import json_response
from ..models import Balance, HistoryRecord
from ..oauth import bearer_value, doorkeeper_revoke
from .common import api, int_param

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
    presented = (bearer_value(request.headers.get("Authorization", "")) or request.POST.get("access_token")
                 or request.GET.get("access_token") or request.POST.get("bearer_token")
                 or request.GET.get("bearer_token") or "")
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


def _format(record: HistoryRecord) -> dict:
    created = record.time.isoformat().replace("+00:00", "Z")
    if record.kind == HistoryRecord.Kind.TRADE:
        return {"id": record.pk, "price": text(record.price), "volume": text(record.amount),
                "funds": text(record.price * record.amount), "market": record.pair.replace("-", "").lower(),
                "created_at": created, "side": "bid" if record.side == "buy" else "ask",
                "fee": text(record.fee), "fee_currency": record.fee_currency.lower()}
    item = {"id": record.pk, "currency": record.currency.lower(), "amount": text(record.amount), "fee": text(record.fee),
            "txid": record.txid, "created_at": created, "done_at": created}
    if record.kind == HistoryRecord.Kind.DEPOSIT:
        return {**item, "confirmations": CURRENCIES[record.currency].chains[0].confirmations, "state": "accepted"}
    state = "succeed" if withdrawal_status(record) == "SUCCESS" else "processing"
    return {**item, "type": "coin", "rid": record.address, "state": state}


def _history_view(kind: str, name: str):
    @api("peatio", name, caller=peatio_caller)
    def view(request, caller):
        require(caller, SCOPE_HISTORY)
        page = int_param(request, "page", 1, low=1, high=10**9)
        limit = int_param(request, "limit", 100, low=1, high=1000)
        currency = request.GET.get("currency")
        if kind == HistoryRecord.Kind.TRADE and request.GET.get("market"):
            market = request.GET["market"].upper()
            queryset = records(caller.user, kind).filter(pair__in=[f"{market[:3]}-{market[3:]}", market])
        else:
            queryset = records(caller.user, kind, currency=currency)
        rows, total = offset_page(queryset, (page - 1) * limit, limit)
        return [_format(record) for record in rows]

    return view


trades_my = _history_view(HistoryRecord.Kind.TRADE, "trades-my")
deposits = _history_view(HistoryRecord.Kind.DEPOSIT, "deposits")
withdraws = _history_view(HistoryRecord.Kind.WITHDRAWAL, "withdraws")
