"""Per-user and per-tenant limits on sensitive actions (connect, callback, withdrawal submit, 2FA, export).

Fixed windows counted in the shared cache (Redis in production); the limits are settings, so a broker
with unusual traffic can be given more without a code change."""

import functools
import time
from dataclasses import dataclass

from allauth.core import ratelimit as allauth_ratelimit
from allauth.core.internal.ratelimit import parse_rates
from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

# The actions limited, each with {scope: "count/seconds"} in the setting PORTAL_RATE_LIMITS (settings/base.py);
# a system check (broker_portal.E002) holds the setting to them at start.
ACTIONS = ("exchange_connect", "exchange_callback", "withdrawal_submit", "withdrawal_factors", "export_request")
SCOPES = ("user", "tenant")


@dataclass(frozen=True)
class RateLimited(Exception):
    action: str
    retry_after: int


def limits_for(action: str) -> dict[str, tuple[int, int]]:
    configured = settings.PORTAL_RATE_LIMITS[action]
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


def mfa_code_attempt(request, user):
    """Count one MFA code tried outside allauth's forms (the API's step-up) against the very limit allauth's
    sign-in and re-authentication forms apply: ACCOUNT_RATE_LIMITS["login_failed"], on the key allauth uses
    per user (allauth.mfa.base.internal.flows.check_rate_limit). Guesses through the API and the web add up,
    and the user is locked out for the window once over it. Raises RateLimited; returns what clears the
    count after a right code, as allauth does."""
    key = f"mfa-auth-user-{user.pk}"
    django_request = getattr(request, "_request", request)  # the API passes DRF's request
    if not allauth_ratelimit.consume(django_request, action="login_failed", key=key):
        windows = [rate.duration for rate in parse_rates(settings.ACCOUNT_RATE_LIMITS.get("login_failed"))]
        raise RateLimited("mfa_code", retry_after=int(max(windows, default=60)))
    return lambda: allauth_ratelimit.clear(django_request, action="login_failed", key=key)
