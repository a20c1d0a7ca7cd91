"""Whether this web process can serve: the database, the cache and the Celery broker answer, and beat's
heartbeat is recent.

The heartbeat is broker_portal.tasks.record_worker_heartbeat: beat sends it every minute and a worker runs it, so a
recent one proves beat is scheduling AND a worker is consuming the queue (a backlog ahead of it shows as a stale
heartbeat too). Each check answers a word, never an error's text: a driver's message can carry a host or a
password from a URL."""

import logging
import secrets
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from broker_portal.celery import app
from broker_portal.tasks import HEARTBEAT_CACHE_KEY

logger = logging.getLogger(__name__)

OK = "ok"
UNKNOWN = "unknown"
PROBE_CACHE_KEY = "portal:readyz-probe"


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return OK


def check_cache() -> str:
    token = secrets.token_hex(8)
    cache.set(PROBE_CACHE_KEY, token, timeout=30)
    return OK if cache.get(PROBE_CACHE_KEY) == token else "not_stored"


def broker_connection():
    """A new connection to the Celery broker that gives up after the probe's timeout, never retrying."""
    timeout = settings.READYZ_CHECK_TIMEOUT_SECONDS
    return app.connection_for_read(
        settings.CELERY_BROKER_URL,
        connect_timeout=timeout,
        transport_options={"socket_connect_timeout": timeout, "socket_timeout": timeout},
    )


def check_broker() -> str:
    with broker_connection() as broker:
        broker.ensure_connection(max_retries=0, timeout=settings.READYZ_CHECK_TIMEOUT_SECONDS)
    return OK


def check_heartbeat() -> str:
    recorded = cache.get(HEARTBEAT_CACHE_KEY)
    if not recorded:
        return "missing"
    age = (timezone.now() - datetime.fromisoformat(recorded)).total_seconds()
    return OK if age <= settings.READYZ_HEARTBEAT_MAX_AGE_SECONDS else "stale"


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker, "heartbeat": check_heartbeat}


def readiness() -> dict[str, str]:
    """Each check's answer: "ok", a word saying what is wrong, or "unreachable" where it raised."""
    results = {}
    for name, check in CHECKS.items():
        if name == "heartbeat" and results["cache"] != OK:
            results[name] = UNKNOWN  # kept in the cache, so unknowable while the cache is out
            continue
        try:
            results[name] = check()
        except Exception as error:
            logger.warning("Readiness check %s failed: %s", name, error.__class__.__name__)
            results[name] = "unreachable"
    return results
