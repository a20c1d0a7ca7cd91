"""Sandbox control: injected faults, the clock offset, the registration and seeding that stand in for an
exchange's partner team, and the chain that delivers a deposit, as JSON endpoints. None of these is an exchange's:
they are the sandbox's own control surface, for the demo and the tests."""

from decimal import Decimal, InvalidOperation

from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .. import clock, faults
from ..deposits import DepositRefused, deposit_credit
from ..http import json_object, json_response
from ..models import Fault
from ..services import client_register, seed_accounts

# What a broker's application states when it applies (services.client_register's keyword arguments).
CLIENT_FIELDS = (
    "exchange",
    "client_id",
    "client_secret",
    "client_type",
    "redirect_uris",
    "permissions",
    "rsa_public_key",
    "api_broker",
    "ip_allowlist",
    "broker_name",
)


def _json_body(request) -> dict:
    return json_object(request) or {}


@csrf_exempt
def fault_list(request):
    """GET lists, POST sets one ({exchange, endpoint, kind, count?, probability?, delay_seconds?, retry_after?}),
    DELETE clears (all, or ?exchange=)."""
    if request.method == "POST":
        body = _json_body(request)
        try:
            fault = faults.fault_set(
                exchange=body["exchange"],
                endpoint=body["endpoint"],
                kind=str(body["kind"]),
                count=body.get("count"),
                probability=float(body.get("probability", 1.0)),
                delay_seconds=float(body.get("delay_seconds", 0)),
                retry_after=int(body.get("retry_after", 1)),
            )
        except (KeyError, ValueError, TypeError) as problem:
            return json_response({"error": f"bad fault: {problem}"}, status=400)
        return json_response(faults.fault_describe(fault), status=201)
    if request.method == "DELETE":
        return json_response({"cleared": faults.fault_clear(exchange=request.GET.get("exchange"))})
    return json_response([faults.fault_describe(fault) for fault in Fault.objects.order_by("id")])


@csrf_exempt
def clock_offset(request):
    """GET shows, POST sets ({"offset_seconds": N}), DELETE resets the sandbox clock offset."""
    if request.method == "POST":
        try:
            clock.set_offset(float(_json_body(request)["offset_seconds"]))
        except (KeyError, ValueError, TypeError):
            return json_response({"error": "offset_seconds (a number) is required"}, status=400)
    elif request.method == "DELETE":
        clock.set_offset(0)
    return json_response({"offset_seconds": clock.offset_seconds(), "now": clock.now().isoformat()})


@csrf_exempt
@require_POST
def client_list(request):
    """POST registers (or updates) a broker application, as the exchange's partner team would
    ({exchange, client_id, client_secret, redirect_uris, permissions, client_type?, rsa_public_key?, api_broker?,
    ip_allowlist?, broker_name?}); answers what the exchange issues (Kraken's encrypted secret, KuCoin's broker
    name)."""
    body = _json_body(request)
    unknown = set(body) - set(CLIENT_FIELDS)
    if unknown:
        return json_response({"error": f"unknown fields: {', '.join(sorted(unknown))}"}, status=400)
    try:
        issued = client_register(**body)
    except (TypeError, ValueError) as problem:
        return json_response({"error": f"bad client: {problem}"}, status=400)
    return json_response(issued, status=201)


@csrf_exempt
@require_POST
def seed(request):
    """POST creates (or brings back) every exchange's sandbox users ({history_rows?, seed?}) and lists them."""
    body = _json_body(request)
    try:
        options = {name: int(body[name]) for name in ("history_rows", "seed") if name in body}
    except (TypeError, ValueError):
        return json_response({"error": "history_rows and seed are whole numbers"}, status=400)
    return json_response(seed_accounts(**options))


@csrf_exempt
@require_POST
def deposit(request):
    """POST credits a deposit to one of an account's deposit addresses, as a confirmed on-chain send would
    ({exchange, address, amount, memo?, txid?}); it then shows in that exchange's deposit history. Answers the
    deposit's transaction id, currency and account."""
    body = _json_body(request)
    try:
        amount = Decimal(str(body["amount"]))
        record = deposit_credit(
            exchange=str(body["exchange"]),
            address=str(body["address"]),
            amount=amount,
            memo=str(body.get("memo") or ""),
            txid=str(body.get("txid") or ""),
        )
    except (KeyError, InvalidOperation, DepositRefused) as problem:
        return json_response({"error": f"bad deposit: {problem}"}, status=400)
    return json_response(
        {
            "txid": record.txid,
            "currency": record.currency,
            "amount": str(record.amount),
            "email": record.user.email,
            "time": record.time.isoformat(),
        },
        status=201,
    )
