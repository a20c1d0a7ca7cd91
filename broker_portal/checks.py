"""Misconfiguration found at start, not at the first request that needs it."""

import ipaddress
import math
import re
from decimal import Decimal

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def encryption_keys_configured(app_configs, **kwargs):
    if not settings.FERNET_KEYS:
        return [
            Error(
                "FERNET_KEYS is empty: secrets cannot be encrypted at rest.",
                hint="Set FERNET_KEYS to one or more comma-separated keys; the first encrypts.",
                id="broker_portal.E001",
            )
        ]
    if settings.FERNET_KEYS[0] == settings.SECRET_KEY:
        return [
            Warning(
                "The first FERNET_KEYS entry equals SECRET_KEY; rotating one would lose the other.",
                id="broker_portal.W001",
            )
        ]
    return []


@register(deploy=True)
def sandbox_off_in_production(app_configs, **kwargs):
    if settings.EXCHANGE_SANDBOX:
        return [
            Warning(
                "EXCHANGE_SANDBOX is on: the exchange simulator is mounted.",
                hint="Unset EXCHANGE_SANDBOX in production.",
                id="broker_portal.W002",
            )
        ]
    return []


# Settings that hold a number: (name, int or float, the least it may be). None: above zero, where zero would break
# what it counts or times (a timeout, a lock, a window); 0 where zero means "none" or "always" (no pause, no pool).
NUMBERS = (
    ("EMAIL_PORT", int, 1),
    ("DATABASE_POOL_MAX_SIZE", int, 0),
    ("CELERY_DB_REUSE_MAX", int, 0),
    ("READYZ_HEARTBEAT_MAX_AGE_SECONDS", int, 1),
    ("READYZ_CHECK_TIMEOUT_SECONDS", float, None),
    ("EXPORTS_LINK_HOURS", int, 1),
    ("EXPORTS_HISTORY_DAYS", int, 1),
    ("EXPORTS_KUCOIN_FUNDING_WINDOW_DAYS", int, 1),
    ("EXPORTS_SYNC_PAUSE_SCALE", float, 0),
    ("EXPORT_HEARTBEAT_SECONDS", float, None),
    ("PAYOUTS_LATE_AFTER_MINUTES", int, 1),
    ("PAYOUTS_MISSING_AFTER_HOURS", int, 1),
    ("TOKEN_REFRESH_WINDOW_SECONDS", int, 1),
    ("TOKEN_REFRESH_BACKOFF_BASE_SECONDS", float, None),
    ("TOKEN_REFRESH_BACKOFF_MAX_SECONDS", float, None),
    ("TOKEN_REFRESH_LAPSE_WARNING_SECONDS", float, None),
    ("TOKEN_REFRESH_SWEEP_CLAIM_SECONDS", float, None),
    ("TOKEN_REFRESH_SWEEP_GRACE_SECONDS", float, 0),
    ("API_KEY_CHECK_SPREAD_SECONDS", float, 0),
    ("CONNECTION_HEALTH_COUNTS_SECONDS", int, 0),
    ("WITHDRAWAL_PREVIEW_TTL_SECONDS", int, 1),
    ("WITHDRAWAL_STEP_UP_TTL_SECONDS", int, 1),
    ("WITHDRAWAL_EXCHANGE_TRANSACTION_TTL_SECONDS", int, 1),
    ("WITHDRAWAL_STALE_SUBMIT_SECONDS", int, 1),
    ("SANDBOX_PEATIO_REQUESTS_PER_WINDOW", int, 1),
)
WEBHOOK_NUMBERS = (
    ("WEBHOOK_TIMEOUT_SECONDS", float, None),
    ("WEBHOOK_RETRY_BASE_SECONDS", float, None),
    ("WEBHOOK_RETRY_MAX_SECONDS", float, None),
    ("WEBHOOK_RETRY_HOURS", float, None),
    ("WEBHOOK_PAUSE_AFTER_DAYS", float, None),
    ("WEBHOOK_SECRET_OVERLAP_HOURS", float, 0),
    ("WEBHOOK_DRAIN_SECONDS", float, None),
    ("WEBHOOK_KEEP_DAYS", float, None),
    ("WEBHOOK_SWEEP_SECONDS", float, None),
)
BALANCES_NUMBERS = (
    ("BALANCES_FRESH_SECONDS", int, 0),
    ("BALANCES_KEEP_SECONDS", int, 1),
    ("BALANCES_FAILURE_SECONDS", int, 0),
    ("BALANCES_PAGE_WAIT_SECONDS", float, 0),
    ("BALANCES_FILL_THREADS", int, 1),
    ("BALANCES_FILL_LOCK_SECONDS", int, 1),
    ("BALANCES_WARM_SECONDS", int, 1),
)
PLAN_CACHE_MODES = ("auto", "force_custom_plan", "force_generic_plan")
RATE = re.compile(r"[1-9][0-9]*/[1-9][0-9]*")  # count/seconds
API_RATE = re.compile(r"[1-9][0-9]*/[smhd][a-z]*")  # Django REST framework's count/period, e.g. 120/min
LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"  # letters, digits, "-" inside ("_" as some private names have)
HOST_NAME = re.compile(rf"(?=.{{1,254}}$){LABEL}(\.{LABEL})*\.?")


def number_errors(numbers, error_id: str) -> list:
    """An error for each setting of ``numbers`` that is no number, or one below its least."""
    errors = []
    for name, kind, least in numbers:
        value = getattr(settings, name)
        wanted = "an integer" if kind is int else "a number"
        wanted += " above 0" if least is None else f" of at least {least}"
        kinds = (int,) if kind is int else (int, float, Decimal)
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or not math.isfinite(value)
            or value < (least or 0)
            or (least is None and value <= 0)
        ):
            errors.append(
                Error(
                    f"{name} must be {wanted}, not {value!r}.",
                    hint=f"Set the environment variable {name} to {wanted}.",
                    id=error_id,
                )
            )
    return errors


@register()
def rate_limits_valid(app_configs, **kwargs):
    from .ratelimits import ACTIONS, SCOPES

    problems = []
    limits = settings.PORTAL_RATE_LIMITS
    if not isinstance(limits, dict):
        limits, problems = {}, [f"PORTAL_RATE_LIMITS must be a dict of actions, not {limits!r}"]
    problems += [f"PORTAL_RATE_LIMITS has no limits for {action!r}" for action in ACTIONS if not limits.get(action)]
    for action, scopes in limits.items():
        if action not in ACTIONS:
            problems.append(f"PORTAL_RATE_LIMITS names {action!r}, which is none of {', '.join(ACTIONS)}")
        elif not isinstance(scopes, dict):
            problems.append(f"PORTAL_RATE_LIMITS[{action!r}] must map user/tenant to count/seconds")
        else:
            problems += [
                f"PORTAL_RATE_LIMITS[{action!r}] scope {scope!r} is neither user nor tenant"
                for scope in scopes
                if scope not in SCOPES
            ]
            problems += [
                f"PORTAL_RATE_LIMITS[{action!r}][{scope!r}] is {spec!r}, not count/seconds (e.g. 10/60)"
                for scope, spec in scopes.items()
                if not (isinstance(spec, str) and RATE.fullmatch(spec))
            ]
    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
    problems += [
        f"API_RATE_PER_{scope.upper()} is {rate!r}, not count/period (e.g. 120/min)"
        for scope, rate in rates.items()
        if not (isinstance(rate, str) and API_RATE.fullmatch(rate))
    ]
    return [
        Error(
            f"{problem}.",
            hint="PORTAL_RATE_LIMITS takes comma-separated action.scope=count/seconds entries, "
            "e.g. withdrawal_submit.user=5/60.",
            id="broker_portal.E002",
        )
        for problem in problems
    ]


@register()
def key_lists_valid(app_configs, **kwargs):
    from broker_portal.settings.base import fernet_key_problems

    problems = []
    keys = settings.FERNET_KEYS
    if not isinstance(keys, (list, tuple)) or not all(isinstance(key, str) for key in keys):
        problems.append("FERNET_KEYS must be a list of keys")
    else:
        problems += [f"FERNET_KEYS: {problem}" for problem in fernet_key_problems(list(keys))]
    codes = settings.OKX_EXTRA_INVALID_API_KEY_CODES
    if not isinstance(codes, (list, tuple)) or not all(isinstance(code, str) and code.isdigit() for code in codes):
        problems.append(f"OKX_EXTRA_INVALID_API_KEY_CODES must be comma-separated OKX codes (digits), not {codes!r}")
    return [Error(f"{problem}.", id="broker_portal.E003") for problem in problems]


@register()
def host_lists_valid(app_configs, **kwargs):
    problems = []
    for name in ("ALLOWED_HOSTS", "EXCHANGE_ALLOWED_EXTRA_HOSTS"):
        hosts = getattr(settings, name)
        if not isinstance(hosts, (list, tuple)):
            problems.append(f"{name} must be a comma-separated list of host names, not {hosts!r}")
            continue
        problems += [
            f"{name}: {host!r} is not a host name (no scheme, path, port, space or comma)"
            for host in hosts
            if not host_name(host, wildcard=name == "ALLOWED_HOSTS")
        ]
    networks = settings.METRICS_ALLOWED_IPS
    if not isinstance(networks, (list, tuple)) or not all(
        isinstance(network, (ipaddress.IPv4Network, ipaddress.IPv6Network)) for network in networks
    ):
        problems.append(f"METRICS_ALLOWED_IPS must be addresses or CIDRs, not {networks!r}")
    return [Error(f"{problem}.", id="broker_portal.E004") for problem in problems]


def host_name(host, *, wildcard: bool) -> bool:
    """A host name or address as a URL's hostname gives it (ALLOWED_HOSTS: "*", a leading dot and [IPv6] too)."""
    if not isinstance(host, str) or not host:
        return False
    if wildcard and host == "*":
        return True
    name = host[1:] if wildcard and host.startswith(".") else host
    if wildcard and name.startswith("[") and name.endswith("]"):  # Django's form of an IPv6 address
        name = name[1:-1]
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return bool(HOST_NAME.fullmatch(name))


@register()
def numbers_valid(app_configs, **kwargs):
    errors = number_errors(NUMBERS, "broker_portal.E005")
    concurrency = settings.CELERY_WORKER_CONCURRENCY
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        errors.append(
            Error(
                f"CELERY_WORKER_CONCURRENCY must be a positive integer (0: one per CPU), not {concurrency!r}.",
                id="broker_portal.E005",
            )
        )
    timeout = settings.EXCHANGE_HTTP_TIMEOUT
    parts = timeout if isinstance(timeout, (list, tuple)) else (timeout,)
    if not 1 <= len(parts) <= 2 or not all(
        isinstance(part, (int, float)) and not isinstance(part, bool) and math.isfinite(part) and part > 0
        for part in parts
    ):
        errors.append(
            Error(
                f"EXCHANGE_HTTP_TIMEOUT must be seconds above 0, one number or connect,read "
                f"(e.g. 5,20), not {timeout!r}.",
                id="broker_portal.E005",
            )
        )
    return errors


@register()
def webhook_settings_valid(app_configs, **kwargs):
    errors = number_errors(WEBHOOK_NUMBERS, "broker_portal.E006")
    if not isinstance(settings.WEBHOOK_URLS_PUBLIC_ONLY, bool):
        errors.append(
            Error(
                f"WEBHOOK_URLS_PUBLIC_ONLY must be true or false, not {settings.WEBHOOK_URLS_PUBLIC_ONLY!r}.",
                id="broker_portal.E006",
            )
        )
    return errors


@register()
def balances_settings_valid(app_configs, **kwargs):
    return number_errors(BALANCES_NUMBERS, "broker_portal.E007")


@register()
def plan_cache_mode_valid(app_configs, **kwargs):
    mode = settings.DATABASE_PLAN_CACHE_MODE
    if mode not in PLAN_CACHE_MODES:
        return [
            Error(
                f"DATABASE_PLAN_CACHE_MODE is {mode!r}, not one of {', '.join(PLAN_CACHE_MODES)}.",
                id="broker_portal.E008",
            )
        ]
    return []


@register()
def celery_worker_pool_valid(app_configs, **kwargs):
    from celery.concurrency import get_available_pool_names

    pools = [name for name in get_available_pool_names() if name != "custom"]
    if settings.CELERY_WORKER_POOL not in pools:
        return [
            Error(
                f"CELERY_WORKER_POOL is {settings.CELERY_WORKER_POOL!r}, not one of {', '.join(pools)}.",
                hint="prefork (processes) or threads (the token refreshes).",
                id="broker_portal.E009",
            )
        ]
    return []
