"""Sandbox control: injected faults and the clock offset, as JSON endpoints."""

from django.views.decorators.csrf import csrf_exempt

from .. import clock, faults
from ..http import json_object, json_response
from ..models import Fault


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
