"""Tests run against the real PostgreSQL and Redis of the machine unless told otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/broker_portal")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")

from .base import *  # noqa: E402,F401,F403
from .base import env, env_float, fernet_keys  # noqa: E402

DEBUG = False
SECRET_KEY = "test-secret-key-that-is-only-used-by-the-test-suite-0123456789"
FERNET_KEYS = fernet_keys(env("FERNET_KEYS")) if env("FERNET_KEYS") else ["test-fernet-key-one"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
EXCHANGE_SANDBOX = True
if EXCHANGE_SANDBOX:
    INSTALLED_APPS = [*INSTALLED_APPS, "sandbox"]  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
# The tests' webhook receivers listen on loopback over http.
WEBHOOK_URLS_PUBLIC_ONLY = False
# No worker runs beside the tests, so a page fills the balances it shows itself; the sandbox answers at once, and
# tests read the balances a page shows once read (the test of a hanging exchange sets production's wait).
BALANCES_PAGE_WAIT_SECONDS = env_float("BALANCES_PAGE_WAIT_SECONDS", 10.0)
