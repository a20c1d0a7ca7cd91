"""Production: every secret comes from the environment and there is no default for it."""

from .base import *  # noqa: F401,F403
from .base import LOG_LEVEL, env, env_bool, env_int, env_list, fernet_keys, logging_config, required_env

DEBUG = False
SECRET_KEY = required_env("DJANGO_SECRET_KEY")
FERNET_KEYS = fernet_keys(required_env("FERNET_KEYS"))
required_env("DATABASE_URL")
required_env("REDIS_URL")  # the cache behind allauth's rate limits must be shared by every web process
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
# Web processes and workers keep their database connection (checked before reuse): a request or a token
# refresh then pays for no new connection, and the statements psycopg prepared on it stay prepared.
# With a pool (DATABASE_POOL_MAX_SIZE) the pool keeps them instead.
if "pool" not in DATABASES["default"].get("OPTIONS", {}):  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
if "pool" not in DATABASES["default"].get("OPTIONS", {}):  # noqa: F405 (with a pool: back after every task)
    CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 100)
EXCHANGE_SANDBOX = env_bool("EXCHANGE_SANDBOX", False)

# Only a proxy in front that sets (and overwrites) X-Forwarded-Proto makes the header trustworthy; without one, a
# client could send it and pass for HTTPS. Off by default.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TLS_PROXY_SETS_FORWARDED_PROTO", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

EXCHANGE_HOSTS_ENFORCED = True  # connectors/base/hosts.py: never off in production
WEBHOOK_URLS_PUBLIC_ONLY = True  # webhooks/services.py: https to public addresses only, never off in production

# One JSON object per line, for the log pipeline; LOG_FORMAT=plain to read it in a terminal.
LOG_FORMAT = env("LOG_FORMAT", "json")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
