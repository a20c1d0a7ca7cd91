"""Settings for the sandbox as its own service (bin/demo runs it so, on its own port): its own database, cookies
and key, and nothing of the portal's, as an exchange shares nothing with the brokers that call it."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = os.environ.get("SANDBOX_DEBUG", "").lower() in {"1", "true", "yes", "on"}
# A simulator of no value to steal; a fixed key keeps consent sessions across restarts.
SECRET_KEY = os.environ.get("SANDBOX_SECRET_KEY", "sandbox-only-secret-key-not-for-any-real-exchange-0123456789")
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.sessions", "sandbox"]
# Sessions and CSRF for the consent pages; nothing else.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "sandbox.standalone_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# Its own SQLite file by default, so no portal transaction ever waits on the sandbox's writes (or the reverse).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("SANDBOX_DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'sandbox.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Its server is threaded: writers queue for the lock (IMMEDIATE, a busy timeout) instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Its users' passwords are the demo's, printed at start: a fast hash keeps seeding and sign-in quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The browser keeps one cookie jar for every port of a host: the portal's "sessionid" and "csrftoken" on
# localhost:8000 would be overwritten by the sandbox's on localhost:8001 under the same names.
SESSION_COOKIE_NAME = "sandbox_sessionid"
CSRF_COOKIE_NAME = "sandbox_csrftoken"
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"

USE_TZ = True
TIME_ZONE = "UTC"
# The regional host OKX's callback names (run_sandbox --okx-domain sets it too).
SANDBOX_OKX_DOMAIN = os.environ.get("SANDBOX_OKX_DOMAIN", "")
# Requests per key pair in 5 minutes before Peatio answers 429, as sandbox/README.md says; lower for tests.
SANDBOX_PEATIO_REQUESTS_PER_WINDOW = int(os.environ.get("SANDBOX_PEATIO_REQUESTS_PER_WINDOW", "6000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SANDBOX_LOG_LEVEL", "WARNING")},
}
