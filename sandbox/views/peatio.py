"""The Peatio-style exchange: APIv2 signed with the user token's access/secret key pair."""

from ..api_auth import peatio_caller, peatio_error
from ..exchanges import CURRENCIES
from ..funds import withdrawal_status
from ..history import offset_page, records, text
from ..models import Balance, HistoryRecord
from .common import api, int_param

# Which OAuth scope each resource needs.
SCOPE_PROFILE, SCOPE_HISTORY = "profile", "history"


def require(caller, scope: str) -> None:
    if not caller.allows(scope):
        raise peatio_error(2011, "Requested API is out of access key scopes.", status=403)


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
