"""Per-user and per-tenant limits on sensitive actions (connect, callback, withdrawal submit, 2FA, export).

Fixed windows counted in the shared cache (Redis in production); the limits are settings, so a broker
with unusual traffic can be given more without a code change."""

import functools
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

DEFAULT_LIMITS = {
    # action: {scope: "count/seconds"}
    "exchange_connect": {"user": "20/60", "tenant": "600/60"},
    "exchange_callback": {"user": "20/60", "tenant": "600/60"},
    "withdrawal_submit": {"user": "10/60", "tenant": "300/60"},
    "withdrawal_factors": {"user": "10/60", "tenant": "300/60"},
    "export_request": {"user": "10/60", "tenant": "100/60"},
}


@dataclass(frozen=True)
class RateLimited(Exception):
    action: str
    retry_after: int


def limits_for(action: str) -> dict[str, tuple[int, int]]:
    configured = getattr(settings, "PORTAL_RATE_LIMITS", {}).get(action) or DEFAULT_LIMITS[action]
    return {scope: tuple(int(part) for part in spec.split("/")) for scope, spec in configured.items()}


def consume(request, action: str) -> None:
    """Count one use of ``action``; raise RateLimited when the user or the tenant is over its limit."""
    now = int(time.time())
    subjects = {"user": getattr(request.user, "pk", None), "tenant": getattr(request.tenant, "pk", None)}
    for scope, (count, seconds) in limits_for(action).items():
        if subjects.get(scope) is None:
            continue
        window = now // seconds
        key = f"ratelimit:{action}:{scope}:{subjects[scope]}:{window}"
        cache.add(key, 0, timeout=seconds + 1)
        if cache.incr(key) > count:
            raise RateLimited(action, retry_after=(window + 1) * seconds - now)


def too_many_requests(request, limited: RateLimited):
    """The 429 page that says when to try again."""
    response = render(request, "portal/rate_limited.html", {"retry_after": limited.retry_after}, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


def rate_limited(action: str):
    """View decorator: over the limit, the 429 page instead of the view."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                consume(request, action)
            except RateLimited as limited:
                return too_many_requests(request, limited)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
