"""Embedded defaults for the demo: SQLite, a filesystem Celery broker, the exchange sandbox beside it."""

import os

from .base import *  # noqa: F401,F403
from .base import VAR_DIR, env, env_bool, fernet_keys

VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env("DJANGO_SECRET_KEY", "development-only-secret-key-not-for-production-use-0123456789")
# Fixed development keys so the demo's encrypted data survives restarts.
FERNET_KEYS = fernet_keys(env("FERNET_KEYS")) if env("FERNET_KEYS") else ["development-only-fernet-key"]
if not os.environ.get("REDIS_URL"):
    # Shared by web, worker and beat, so rate limits and heartbeats hold across the three processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# The exchange sandbox is a separate service here, as the exchanges are: its own process and database on
# SANDBOX_PORT (bin/demo starts it). EXCHANGE_SANDBOX=true mounts it inside the portal instead, as the tests do.
EXCHANGE_SANDBOX = env_bool("EXCHANGE_SANDBOX", False)
if EXCHANGE_SANDBOX:
    INSTALLED_APPS = [*INSTALLED_APPS, "sandbox"]  # noqa: F405
# The demo's receivers run on loopback.
WEBHOOK_URLS_PUBLIC_ONLY = env_bool("WEBHOOK_URLS_PUBLIC_ONLY", False)
EXCHANGE_SANDBOX_URL = env("EXCHANGE_SANDBOX_URL", f"http://localhost:{env('SANDBOX_PORT', '8001')}/sandbox")

# A broker that needs no server: kombu's filesystem transport under var/.
if not (os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")):
    _queue_dir = VAR_DIR / "celery-queue"
    _queue_dir.mkdir(exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),  # else ./control in the working directory
        "store_processed": False,  # delivered messages are deleted, not kept
    }
