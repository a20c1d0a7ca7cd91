"""Injected misbehaviour: errors, rate limits, slowness, silence and resets, chosen per endpoint."""

import functools
import random
import socket
import struct
import time

from django.db import transaction
from django.db.models import F
from django.http import HttpResponse, JsonResponse

from .models import Fault

HANG_SECONDS = 120.0  # "not at all": longer than any sane client timeout
# Decides whether a fault with a probability strikes a given call; fault_seed makes the sequence repeatable.
_chance = random.Random()


def fault_seed(seed: int | None) -> None:
    """Make the choices of probabilistic faults repeat from run to run (None: unpredictable again). Calls that
    arrive in the same order then meet the same faults."""
    _chance.seed(seed)


def fault_set(
    *,
    exchange: str,
    endpoint: str,
    kind: str,
    count: int | None = None,
    probability: float = 1.0,
    delay_seconds: float = 0,
    retry_after: int = 1,
) -> Fault:
    if kind not in Fault.Kind.values:
        raise ValueError(f"kind must be one of {Fault.Kind.values}.")
    if not 0 < probability <= 1:
        raise ValueError("probability must be in (0, 1].")
    return Fault.objects.create(
        exchange=exchange,
        endpoint=endpoint,
        kind=kind,
        remaining=count,
        probability=probability,
        delay_seconds=delay_seconds,
        retry_after=retry_after,
    )


def fault_clear(*, exchange: str | None = None) -> int:
    faults = Fault.objects.all()
    if exchange:
        faults = faults.filter(exchange=exchange)
    return faults.delete()[0]


def fault_describe(fault: Fault) -> dict:
    return {
        "id": fault.id,
        "exchange": fault.exchange,
        "endpoint": fault.endpoint,
        "kind": fault.kind,
        "remaining": fault.remaining,
        "probability": fault.probability,
        "delay_seconds": fault.delay_seconds,
        "retry_after": fault.retry_after,
    }


def _claim_fault(exchange: str, endpoint_name: str, path: str) -> Fault | None:
    """The first fault that applies to this call; a count-limited one is used up atomically."""
    local_path = path.split(f"/sandbox/{exchange}", 1)[-1]
    candidates = Fault.objects.filter(exchange=exchange, endpoint__in=[endpoint_name, path, local_path]).order_by("id")
    for fault in candidates:
        if fault.probability < 1 and _chance.random() >= fault.probability:
            continue
        if fault.remaining is None:
            return fault
        with transaction.atomic():
            claimed = Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1)
            Fault.objects.filter(pk=fault.pk, remaining__lte=0).delete()
        if claimed:
            return fault
    return None


def _socket_behind(stream) -> socket.socket | None:
    """Django's LimitedStream keeps the reader's bound ``read``; the reader's raw SocketIO keeps the socket."""
    for _ in range(6):
        if isinstance(stream, socket.socket):
            return stream
        reader = getattr(stream, "_read", None)
        stream = (
            getattr(reader, "__self__", None)
            or getattr(stream, "stream", None)
            or getattr(stream, "raw", None)
            or getattr(stream, "_sock", None)
        )
    return None


def _reset_connection(request) -> HttpResponse:
    """Close the client's socket without an answer. The sandbox's own server puts the socket in the
    WSGI environ; under Django's servers it is found through the request stream. If neither works,
    answer 502 with an empty body (documented in README)."""
    sock = request.META.get("sandbox.socket") or _socket_behind(request.META.get("wsgi.input"))
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
    return HttpResponse(status=502)


def _faulty_response(request, fault: Fault):
    if fault.kind == Fault.Kind.SLOW:
        time.sleep(fault.delay_seconds)
        return None  # then answer normally
    if fault.kind == Fault.Kind.HANG:
        time.sleep(fault.delay_seconds or HANG_SECONDS)
        return HttpResponse(status=504)
    if fault.kind == Fault.Kind.ERROR_500:
        return JsonResponse({"error": "internal_error", "message": "Injected sandbox fault."}, status=500)
    if fault.kind == Fault.Kind.RATE_LIMIT:
        response = JsonResponse({"error": "rate_limited", "message": "Too many requests."}, status=429)
        response["Retry-After"] = str(fault.retry_after)
        return response
    if fault.kind == Fault.Kind.INVALID_GRANT:
        return JsonResponse({"error": "invalid_grant", "error_description": "Injected sandbox fault."}, status=400)
    return _reset_connection(request)


def endpoint(exchange: str, name: str):
    """Names a sandbox view for fault injection and applies any fault set on it."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            fault = _claim_fault(exchange, name, request.path)
            if fault is not None:
                response = _faulty_response(request, fault)
                if response is not None:
                    return response
            return view(request, *args, **kwargs)

        wrapper.sandbox_endpoint = (exchange, name)
        return wrapper

    return decorate
