"""Settings shared by every environment; each value that differs comes from the environment."""

import base64
import binascii
import ipaddress
import os
from datetime import date
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None else to_number(name, value, int)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value is None else to_number(name, value, float)


def env_floats(name: str, default: tuple) -> tuple | float:
    """One number, or several comma-separated: a tuple."""
    value = os.environ.get(name)
    if value is None:
        return default
    numbers = tuple(to_number(name, item, float) for item in value.split(","))
    return numbers if len(numbers) > 1 else numbers[0]


def to_number(name: str, text: str, kind: type) -> int | float:
    """Text that is no number stops the start here, naming the variable; the system checks
    (broker_portal/checks.py) then hold each number to its range."""
    try:
        return kind(text.strip())
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be {'an integer' if kind is int else 'a number'}, not {text.strip()!r}."
        ) from None


def rate_limits(defaults: dict, value: str) -> dict:
    """PORTAL_RATE_LIMITS: the defaults, each "action.scope=count/seconds" entry of the variable over its own. What
    does not parse is kept as given, for the system check (broker_portal.E002) to name at start."""
    limits = {action: dict(scopes) for action, scopes in defaults.items()}
    for entry in filter(None, (item.strip() for item in value.split(","))):
        name, _, spec = entry.partition("=")
        action, _, scope = name.strip().partition(".")
        limits.setdefault(action, {})[scope] = spec.strip()
    return limits


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} must be set.")
    return value


def fernet_keys(value: str) -> list[str]:
    """FERNET_KEYS as a list, refused at start when an entry is malformed. Each entry is HKDF input
    (fernet_fields derives the Fernet key from it), so any text serves, but an empty entry, whitespace inside one,
    a repeated entry or a generated Fernet key that lost characters is a pasting mistake that would encrypt with
    the wrong key or fail to decrypt. The message names the entry by position, never its value."""
    entries = [entry.strip() for entry in value.split(",")]
    problems = fernet_key_problems(entries)
    if problems:
        raise ImproperlyConfigured("FERNET_KEYS: " + "; ".join(problems) + ".")
    return entries


def fernet_key_problems(entries: list[str]) -> list[str]:
    """What is wrong with each entry, by position (also the system check broker_portal.E003's)."""
    problems = []
    for number, entry in enumerate(entries, start=1):
        if not entry:
            problems.append(f"entry {number} is empty (a stray comma?)")
        elif any(char.isspace() or not char.isprintable() for char in entry):
            problems.append(f"entry {number} contains whitespace or a control character")
        elif entry in entries[: number - 1]:
            problems.append(f"entry {number} repeats entry {entries.index(entry) + 1}")
        elif looks_generated(entry) and not decodes_to_a_fernet_key(entry):
            problems.append(f"entry {number} looks like a generated Fernet key but does not decode to 32 bytes")
    return problems


def looks_generated(entry: str) -> bool:
    # Fernet.generate_key(): 32 bytes in URL-safe base64, 44 characters ending in "=".
    return entry.endswith("=") and 40 <= len(entry) <= 48 and all(c.isalnum() or c in "-_=" for c in entry)


def decodes_to_a_fernet_key(entry: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(entry.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def ip_networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses or CIDRs, refused at start when one does not parse (a typo would lock out the scraper silently)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {entry!r} is not an address or CIDR.") from None
    return networks


DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", ".localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "broker_portal.admin_site.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "broker_portal",
    "connectors",
    # One package per exchange; allauth's provider registry finds each one's provider.py.
    "connectors.kucoin",
    "connectors.okx",
    "connectors.kraken",
    "connectors.peatio",
    "connectors.oauth2",
    "withdrawals",
    "exports",
    "deposits",
    "webhooks",
    "payouts",
    "trading",
]

MIDDLEWARE = [
    # First: /healthz, /readyz and /metrics are answered before anything reads the Host header (a probe or a
    # scraper sends the pod's address), redirects to HTTPS or looks for a tenant.
    "monitoring.middleware.ProbeMiddleware",
    "broker_portal.request_id.RequestIdMiddleware",  # before the rest: even a redirect or refusal has the id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "broker_portal.tenancy.TenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "broker_portal.tenancy.SessionTenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "broker_portal.tenancy.StaffMfaMiddleware",
    "broker_portal.errors.PortalErrorMiddleware",
]

ROOT_URLCONF = "broker_portal.urls"
WSGI_APPLICATION = "broker_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "broker_portal.tenancy.tenant_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
# auto, force_custom_plan or force_generic_plan (system check broker_portal.E008); applied with prepared statements.
DATABASE_PLAN_CACHE_MODE = env("DATABASE_PLAN_CACHE_MODE", "force_custom_plan")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_PREPARED_STATEMENTS", True):
    # psycopg prepares a statement a connection runs for the fifth time, so PostgreSQL stops re-planning the
    # hot ones (the token refresh's locking read: about 0.45 ms planned each time, 0.15 ms prepared). That
    # needs parameters bound by the server. A pooler that cannot keep prepared statements (PgBouncer in
    # transaction mode before 1.21) needs DATABASE_PREPARED_STATEMENTS=0.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
    # A prepared statement may switch to PostgreSQL's generic plan, made without the parameters' values: the plan
    # a big tenant's rows earn then serves a small tenant too (its audit page 19 -> 190 ms, bench/README.md,
    # "Pages"). Custom plans are made for each execution's own values; parsing is still saved.
    DATABASES["default"]["OPTIONS"]["options"] = " ".join(
        filter(None, [DATABASES["default"]["OPTIONS"].get("options"), f"-c plan_cache_mode={DATABASE_PLAN_CACHE_MODE}"])
    )
# A pool of PostgreSQL connections per process (Django's, on psycopg_pool), shared by its threads: a worker
# running many token refreshes at once takes a connection for each short burst of queries and gives it back for
# the exchange's call (connectors/token_refresh.py), so its threads need far fewer connections than they are. The pool
# keeps its connections itself, so persistent connections (DATABASE_CONN_MAX_AGE) do not apply. 0: no pool.
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(env_int("DATABASE_POOL_MIN_SIZE", 1), DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        # How long a query waits for a free connection before it fails (psycopg_pool.PoolTimeout).
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file. WAL lets readers go on while one writes; IMMEDIATE takes the write
    # lock when a transaction begins, so a writer waits (up to the timeout) instead of failing at once with
    # "database is locked" when it upgrades a read it began before another process wrote.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "broker_portal.User"

AUTHENTICATION_BACKENDS = ["broker_portal.accounts.TenantAuthenticationBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMS_URLFIELD_ASSUME_HTTPS = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))  # collectstatic's target (an image's build)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Encryption at rest: the first key encrypts, every key decrypts.
SECRET_KEY = env("DJANGO_SECRET_KEY")
FERNET_KEYS = fernet_keys(env("FERNET_KEYS")) if env("FERNET_KEYS") else []

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}
        if env("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# E-mail
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "portal@localhost")

# Accounts: e-mail sign-in, verification, MFA with TOTP and recovery codes.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}
ACCOUNT_ADAPTER = "broker_portal.accounts.PortalAccountAdapter"
ACCOUNT_FORMS = {"reset_password": "broker_portal.accounts.TenantResetPasswordForm"}
MFA_ADAPTER = "broker_portal.accounts.EncryptingMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Broker Portal"
# One period either side, for phones whose clocks drift; a code is accepted once and never after a newer one
# (broker_portal.accounts.use_totp_code_once).
MFA_TOTP_TOLERANCE = 1
# Exchanges connect accounts; they never sign anyone in or up, and allauth keeps no token.
SOCIALACCOUNT_ADAPTER = "connectors.socialaccount.TenantSocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 20
LOGIN_REDIRECT_URL = "dashboard"
LOGIN_URL = "account_login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Everything the pages load is the portal's own: no inline script or style, no CDN, no framing.
CONTENT_SECURITY_POLICY = {
    # The sandbox stands in for the exchanges' own sites, which set their own policies.
    "EXCLUDE_URL_PREFIXES": ["/sandbox/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # allauth draws the TOTP QR code as a data: image
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    },
}

# Celery, configured from Django settings with the CELERY namespace.
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or env("REDIS_URL") or "redis://127.0.0.1:6379/0"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
# On Redis, kombu's transport with one client for its acknowledgement bookkeeping instead of a new one for every
# message (broker_portal/redis_broker.py). Only for redis:// URLs: any other keeps the transport its scheme names.
CELERY_BROKER_TRANSPORT = "broker_portal.redis_broker:Transport" if CELERY_BROKER_URL.startswith("redis://") else None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How a worker runs tasks: "prefork" (processes) or "threads", which suits the token refreshes, whose time is the
# exchange's answer (with DATABASE_POOL_MAX_SIZE, many threads share a few database connections).
CELERY_WORKER_POOL = env("CELERY_WORKER_POOL", "prefork")
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 0) or None  # None: one per CPU
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Celery's Django fixup closes the database connection around every task unless this is set; a worker doing
# many short tasks (token refreshes) keeps it for this many tasks instead.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 0)
if "pool" in DATABASES["default"].get("OPTIONS", {}):
    # A worker's thread gives its pooled connection back after every task: an idle thread must not keep one.
    CELERY_DB_REUSE_MAX = 0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often beat hands due and lost webhook deliveries to workers (webhooks/tasks.py ``sweep_deliveries``).
WEBHOOK_SWEEP_SECONDS = env_float("WEBHOOK_SWEEP_SECONDS", 30.0)
CELERY_BEAT_SCHEDULE = {
    "portal-heartbeat": {"task": "broker_portal.tasks.record_worker_heartbeat", "schedule": 60.0},
    "withdrawals-poll-open": {"task": "withdrawals.tasks.withdrawal_poll_open", "schedule": 15.0},
    "connectors-token-refresh-sweep": {"task": "connectors.tasks.sweep_token_refresh", "schedule": 60.0},
    "connectors-balances-warm": {"task": "connectors.tasks.warm_balances", "schedule": 60.0},
    # Connections that live by their API key (OKX): one signed read each per hour, spread over the hour.
    "connectors-api-key-health": {"task": "connectors.tasks.sweep_api_key_health", "schedule": 3600.0},
    "exports-sync-history": {"task": "exports.tasks.sync_all_connections", "schedule": 3600.0},
    "exports-fail-stalled": {"task": "exports.tasks.fail_stalled_exports", "schedule": 60.0},
    "webhooks-sweep-deliveries": {"task": "webhooks.tasks.sweep_deliveries", "schedule": WEBHOOK_SWEEP_SECONDS},
    "webhooks-delete-old": {"task": "webhooks.tasks.delete_old_events", "schedule": 3600.0},
    "payouts-confirm-open": {"task": "payouts.tasks.confirm_open_payouts", "schedule": 300.0},
    # Reads the recent orders back from each exchange and flags those without the broker's attribution.
    "trading-attribution-check": {"task": "trading.tasks.attribution_check_all", "schedule": 3600.0},
    # Orders whose placing got no answer (timeout, 5xx) are looked up at the exchange by their client order id.
    "trading-orders-unknown": {"task": "trading.tasks.orders_unknown_resolve_all", "schedule": 300.0},
}

# Probes and metrics (monitoring/). /readyz fails when beat's heartbeat (sent every minute, run by a worker) is
# older than this: three missed beats, not one slow one.
READYZ_HEARTBEAT_MAX_AGE_SECONDS = env_int("READYZ_HEARTBEAT_MAX_AGE_SECONDS", 180)
# Each of /readyz's connections (broker) gives up after this, so a probe answers before its own timeout.
READYZ_CHECK_TIMEOUT_SECONDS = env_float("READYZ_CHECK_TIMEOUT_SECONDS", 2.0)
# /metrics answers a caller sending "Authorization: Bearer <this>" or connecting from one of METRICS_ALLOWED_IPS
# (the socket's address, REMOTE_ADDR: no forwarded header is believed); with neither set it answers no one.
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", "")
METRICS_ALLOWED_IPS = ip_networks(env_list("METRICS_ALLOWED_IPS", []))

# Server-side calls only to each exchange's known hosts (connectors/base/hosts.py): on in production, off where
# the sandbox runs on loopback. Extra hosts (a broker's own OAuth 2.0 server on a private network, a staging
# exchange) are allowed only here, by whoever deploys the portal.
EXCHANGE_HOSTS_ENFORCED = env("EXCHANGE_HOSTS_ENFORCED", "false").lower() == "true"
EXCHANGE_ALLOWED_EXTRA_HOSTS = env_list("EXCHANGE_ALLOWED_EXTRA_HOSTS", [])
# Seconds an exchange call may take to connect and to answer ("connect,read"): a page waits at most this long on an
# exchange, and a refresh whose worker died is taken again once a token call can no longer be under way.
EXCHANGE_HTTP_TIMEOUT = env_floats("EXCHANGE_HTTP_TIMEOUT", (5, 20))

# Export files: written here, served only through the authenticated download view, deleted after expiry.
EXPORTS_DIR = Path(env("EXPORTS_DIR", str(VAR_DIR / "exports")))
EXPORTS_LINK_HOURS = env_int("EXPORTS_LINK_HOURS", 24)
# How far back a connection's first history sync walks: EXPORTS_HISTORY_DAYS back from now (a year by default:
# what KuCoin keeps of ledgers, the shortest-lived history a year's tax export needs), not before
# EXPORTS_HISTORY_START (YYYY-MM-DD) if set, and never past what an exchange keeps
# (connectors/*/history.py ``kept_for``).
EXPORTS_HISTORY_DAYS = env_int("EXPORTS_HISTORY_DAYS", 365)
EXPORTS_HISTORY_START = date.fromisoformat(env("EXPORTS_HISTORY_START")) if env("EXPORTS_HISTORY_START", "") else None
# Level C (KuCoin documents no cap on a deposit/withdrawal history range): days asked per request.
EXPORTS_KUCOIN_FUNDING_WINDOW_DAYS = env_int("EXPORTS_KUCOIN_FUNDING_WINDOW_DAYS", 30)
# A history sync pauses between pages as each exchange's rate limit asks (connectors/*/history.py ``pause_seconds``),
# times this: 0 for tests with small histories, above 1 for an account whose limits are shared with other callers.
EXPORTS_SYNC_PAUSE_SCALE = env_float("EXPORTS_SYNC_PAUSE_SCALE", 1.0)
# While an export runs, its worker beats on the job's row this often; four missed beats mark the job stalled
# (exports/services.py ``STALLED_AFTER_BEATS``): soon after a worker is lost, never while it is merely busy.
EXPORT_HEARTBEAT_SECONDS = env_float("EXPORT_HEARTBEAT_SECONDS", 30.0)

# Payouts: one not found in the user's deposit history this long after it was sent (or its address resolved) is
# late, and after PAYOUTS_MISSING_AFTER_HOURS missing; either is still received if the deposit comes afterwards.
PAYOUTS_LATE_AFTER_MINUTES = env_int("PAYOUTS_LATE_AFTER_MINUTES", 60)
PAYOUTS_MISSING_AFTER_HOURS = env_int("PAYOUTS_MISSING_AFTER_HOURS", 72)

# Connections whose access token expires within this many seconds are refreshed by the sweep.
TOKEN_REFRESH_WINDOW_SECONDS = env_int("TOKEN_REFRESH_WINDOW_SECONDS", 600)
# After a transient failure a refresh is retried after BASE * 2^(failures-1) seconds, at most MAX (with jitter,
# never sooner than the exchange's Retry-After, never later than half the refresh token's remaining life).
TOKEN_REFRESH_BACKOFF_BASE_SECONDS = env_int("TOKEN_REFRESH_BACKOFF_BASE_SECONDS", 30)
TOKEN_REFRESH_BACKOFF_MAX_SECONDS = env_int("TOKEN_REFRESH_BACKOFF_MAX_SECONDS", 30 * 60)
# The user is told this long before the refresh token runs out that renewals keep failing.
TOKEN_REFRESH_LAPSE_WARNING_SECONDS = env_int("TOKEN_REFRESH_LAPSE_WARNING_SECONDS", 12 * 3600)
# A connection the sweep enqueued is not enqueued again for CLAIM seconds (its task may sit in the queue); the task
# retries itself, and the sweep steps in GRACE seconds after a retry that got lost.
TOKEN_REFRESH_SWEEP_CLAIM_SECONDS = env_int("TOKEN_REFRESH_SWEEP_CLAIM_SECONDS", 5 * 60)
TOKEN_REFRESH_SWEEP_GRACE_SECONDS = env_int("TOKEN_REFRESH_SWEEP_GRACE_SECONDS", 60)
# Connections that live by their API key (OKX) are checked once an hour, spread over this many seconds.
API_KEY_CHECK_SPREAD_SECONDS = env_int("API_KEY_CHECK_SPREAD_SECONDS", 3000)
# The connections changelist's counts by status are taken again once older than this (connectors/selectors.py,
# connection_health): a broker's tenant has 50,000 connections to count. 0: on every view, one at a time.
CONNECTION_HEALTH_COUNTS_SECONDS = env_int("CONNECTION_HEALTH_COUNTS_SECONDS", 60)

# Dashboard balances (connectors/balances.py): a snapshot younger than BALANCES_FRESH_SECONDS is not read again; one
# is shown, with its age, for BALANCES_KEEP_SECONDS; a failed read is not retried for BALANCES_FAILURE_SECONDS. A
# page waits at most BALANCES_PAGE_WAIT_SECONDS for the reads it starts, on BALANCES_FILL_THREADS threads per web
# process; one read per connection at a time (a lock held at most BALANCES_FILL_LOCK_SECONDS). Beat keeps the
# connections of users signed in within BALANCES_WARM_SECONDS fresh ahead of need.
BALANCES_FRESH_SECONDS = env_int("BALANCES_FRESH_SECONDS", 60)
BALANCES_KEEP_SECONDS = env_int("BALANCES_KEEP_SECONDS", 3600)
BALANCES_FAILURE_SECONDS = env_int("BALANCES_FAILURE_SECONDS", 30)
BALANCES_PAGE_WAIT_SECONDS = env_float("BALANCES_PAGE_WAIT_SECONDS", 0.05)
BALANCES_FILL_THREADS = env_int("BALANCES_FILL_THREADS", 4)
BALANCES_FILL_LOCK_SECONDS = env_int("BALANCES_FILL_LOCK_SECONDS", 60)
BALANCES_WARM_SECONDS = env_int("BALANCES_WARM_SECONDS", 3600)

# OKX signed-call codes, besides 50111, that say the API key is gone and the user must connect again. Level C
# (public integrations only): 50119 "API key doesn't exist". See connectors/okx/client.py.
OKX_EXTRA_INVALID_API_KEY_CODES = tuple(
    code.strip() for code in env("OKX_EXTRA_INVALID_API_KEY_CODES", "50119").split(",") if code.strip()
)
# OKX trading-account bill types (Get bills details, "type") that repeat a row the history sync stores on its own:
# 1 transfer (in from the funding account where deposits land, out to it for a withdrawal) and 2 trade (a fill).
# Level C: OKX docs-v5's table as SDKs copy it. Exports leave these out of the tax formats (exports/MAPPING.md).
OKX_LEDGER_REPEAT_BILL_TYPES = tuple(
    code.strip() for code in env("OKX_LEDGER_REPEAT_BILL_TYPES", "1,2").split(",") if code.strip()
)

# Withdrawals: a fee preview is valid this long, then quoted again; the MFA step-up counts this long.
WITHDRAWAL_PREVIEW_TTL_SECONDS = env_int("WITHDRAWAL_PREVIEW_TTL_SECONDS", 300)
# Level C (KuCoin's guide gives its 2FA transaction no lifetime; the sandbox models 10 minutes): after this long a
# KuCoin submit that got no answer can no longer execute, and is declared unsent.
WITHDRAWAL_EXCHANGE_TRANSACTION_TTL_SECONDS = env_int("WITHDRAWAL_EXCHANGE_TRANSACTION_TTL_SECONDS", 600)
WITHDRAWAL_STEP_UP_TTL_SECONDS = env_int("WITHDRAWAL_STEP_UP_TTL_SECONDS", 600)
# A withdrawal still "submitting" this long after its submit began lost its worker: reconciling it asks the
# exchange's history instead of waiting for the submit's answer.
WITHDRAWAL_STALE_SUBMIT_SECONDS = env_int("WITHDRAWAL_STALE_SUBMIT_SECONDS", 120)

# Limits on sensitive actions per user and per tenant (broker_portal/ratelimits.py), "count/seconds" in fixed
# windows. PORTAL_RATE_LIMITS="withdrawal_submit.user=5/60,export_request.tenant=200/60" changes single entries,
# so a broker with unusual traffic gets more without a code change.
PORTAL_RATE_LIMITS = rate_limits(
    {
        "exchange_connect": {"user": "20/60", "tenant": "600/60"},
        "exchange_callback": {"user": "20/60", "tenant": "600/60"},
        "withdrawal_submit": {"user": "10/60", "tenant": "300/60"},
        "withdrawal_factors": {"user": "10/60", "tenant": "300/60"},
        "export_request": {"user": "10/60", "tenant": "100/60"},
    },
    env("PORTAL_RATE_LIMITS", ""),
)

# Webhooks (webhooks/): a delivery is done on a 2xx within WEBHOOK_TIMEOUT_SECONDS; otherwise it is retried after
# WEBHOOK_RETRY_BASE_SECONDS, doubling up to WEBHOOK_RETRY_MAX_SECONDS (with jitter), for at least
# WEBHOOK_RETRY_HOURS. An endpoint failing for WEBHOOK_PAUSE_AFTER_DAYS is paused and its tenant's admins told. A
# rotated secret keeps signing beside the new one for WEBHOOK_SECRET_OVERLAP_HOURS. One worker at a time delivers
# to an endpoint, for WEBHOOK_DRAIN_SECONDS before it queues the rest behind other work. With
# WEBHOOK_URLS_PUBLIC_ONLY (always in production) endpoints must be https and resolve to public addresses only.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 30.0)
WEBHOOK_RETRY_MAX_SECONDS = env_float("WEBHOOK_RETRY_MAX_SECONDS", 7200.0)
WEBHOOK_RETRY_HOURS = env_float("WEBHOOK_RETRY_HOURS", 24.0)
WEBHOOK_PAUSE_AFTER_DAYS = env_float("WEBHOOK_PAUSE_AFTER_DAYS", 3.0)
WEBHOOK_SECRET_OVERLAP_HOURS = env_float("WEBHOOK_SECRET_OVERLAP_HOURS", 24.0)
WEBHOOK_DRAIN_SECONDS = env_float("WEBHOOK_DRAIN_SECONDS", 20.0)
WEBHOOK_URLS_PUBLIC_ONLY = env_bool("WEBHOOK_URLS_PUBLIC_ONLY", True)
# Events whose every delivery is settled (succeeded or failed) are deleted, with their delivery log, after this.
WEBHOOK_KEEP_DAYS = env_float("WEBHOOK_KEEP_DAYS", 30.0)

# The exchange sandbox is mounted inside the portal only where this is on (tests).
EXCHANGE_SANDBOX = env_bool("EXCHANGE_SANDBOX", False)
# Where the exchange sandbox answers when it runs as its own service (bin/demo); the demo's credentials point there.
EXCHANGE_SANDBOX_URL = env("EXCHANGE_SANDBOX_URL", "")
# The mounted sandbox's own settings, as sandbox/standalone_settings.py declares them for its own service: the
# regional host OKX's callback names (sandbox/views/okx.py), and Peatio's requests per key pair in 5 minutes.
SANDBOX_OKX_DOMAIN = env("SANDBOX_OKX_DOMAIN", "")
SANDBOX_PEATIO_REQUESTS_PER_WINDOW = env_int("SANDBOX_PEATIO_REQUESTS_PER_WINDOW", 6000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "api.permissions.StaffMfaSetUp"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.UserThrottle", "api.throttles.TenantThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("API_RATE_PER_USER", "120/min"),
        "tenant": env("API_RATE_PER_TENANT", "3000/min"),
    },
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Broker portal API",
    "DESCRIPTION": "Everything a person can do in the portal, for a broker's own systems.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
        "api.schema.describe_operations",
        "webhooks.schema.add_event_schemas",
    ],
    # Export requests and sync coverage both name kinds of history: one enum for both.
    "ENUM_NAME_OVERRIDES": {
        "HistoryKindEnum": "connectors.base.history.HistoryKind",
        "WebhookEventTypeEnum": "webhooks.events.EVENT_TYPE_CHOICES",
        "WebhookEndpointStatusEnum": "webhooks.models.WebhookEndpoint.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
    },
}

# Logs: one line per event on stderr, every line through the secret redaction (broker_portal/logs.py) and with
# the request id (broker_portal/request_id.py). LOG_FORMAT "json" writes one JSON object per line for a log
# pipeline (production's default); "plain" is for reading in a terminal.
LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOG_FORMAT = env("LOG_FORMAT", "plain")


def logging_config(log_format: str, level: str) -> dict:
    if log_format not in {"plain", "json"}:
        raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "broker_portal.logs.AddRequestId"},
            "redact_secrets": {"()": "broker_portal.logs.RedactSecrets"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
            "json": {"()": "broker_portal.logs.JsonLineFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id", "redact_secrets"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            # Django's own handlers (its console, mail to ADMINS) would write request lines and reprs holding the
            # full URL, unredacted: its records go through the console handler above instead.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }


LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
