"""The wrapper every sandbox REST view goes through: faults, method check, caller, envelope, refusals."""

import functools

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .. import faults
from ..api_auth import ApiRefused
from ..http import json_response

# How each exchange wraps a successful answer.
ENVELOPES = {
    "kucoin": lambda data: {"code": "200000", "data": data},
    "okx": lambda data: {"code": "0", "msg": "", "data": data if isinstance(data, list) else [data]},
    "kraken": lambda data: {"error": [], "result": data},
    "peatio": lambda data: data,
}


def api(exchange: str, name: str, *, methods=("GET",), caller=None):
    """``caller`` authenticates the request (and is then passed to the view); the view returns the
    data to wrap in the exchange's envelope, or a finished HttpResponse."""

    def decorate(view):
        @csrf_exempt
        @faults.endpoint(exchange, name)
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return json_response({"error": "method not allowed"}, status=405)
            try:
                if caller is not None:
                    args = (caller(request), *args)
                result = view(request, *args, **kwargs)
            except ApiRefused as refused:
                if isinstance(refused.body, str):
                    response = HttpResponse(refused.body, status=refused.status, content_type="text/plain")
                    for header, value in refused.headers.items():
                        response[header] = value
                    return response
                return json_response(refused.body, refused.status, **refused.headers)
            if isinstance(result, HttpResponse):
                return result
            return json_response(ENVELOPES[exchange](result))

        return wrapper

    return decorate


def int_param(request, name: str, default: int, *, low: int, high: int) -> int:
    try:
        value = int(request.GET.get(name, default))
    except ValueError:
        value = default
    return min(max(value, low), high)
