"""/healthz and /readyz: answered at a pod's address, no tenant, no HTTPS redirect; readiness fails by name."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from broker_portal.celery import app
from broker_portal.tasks import HEARTBEAT_CACHE_KEY, record_worker_heartbeat

# What a kubelet or compose probe sends as Host: the pod's address, in no ALLOWED_HOSTS and no tenant's hosts.
POD_ADDRESS = "10.42.0.17:8000"
CLOSED_PORT = "9"  # nothing listens on loopback's discard port: a connection is refused at once
CHECKS = {"database", "cache", "broker", "heartbeat"}


@pytest.fixture
def probe():
    return Client(HTTP_HOST=POD_ADDRESS)


@pytest.fixture
def fresh_heartbeat():
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().isoformat(), timeout=None)


@pytest.fixture(scope="module")
def celery_worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def test_healthz_answers_at_a_pod_address_without_the_database(probe):
    # No database fixture: a query would raise, and the answer would be a 500.
    response = probe.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    # The same Host on any other path is refused by ALLOWED_HOSTS: only the probes are answered before it.
    assert probe.get("/accounts/login/").status_code == 400


@pytest.mark.django_db
def test_probes_are_not_redirected_to_https(settings, fresh_heartbeat):
    settings.SECURE_SSL_REDIRECT = True
    client = Client(HTTP_HOST=POD_ADDRESS)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert Client(HTTP_HOST="localhost").get("/accounts/login/").status_code == 301


def test_healthz_refuses_other_methods(probe):
    assert probe.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_is_ready_once_a_worker_ran_beats_heartbeat(celery_worker, probe, settings):
    """The real Redis broker and a real worker: the heartbeat task as beat sends it, run by the worker."""
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    cache.delete(HEARTBEAT_CACHE_KEY)
    assert probe.get("/readyz").json()["failed"] == ["heartbeat"]
    record_worker_heartbeat.apply_async()
    for _ in range(100):
        if cache.get(HEARTBEAT_CACHE_KEY):
            break
        time.sleep(0.1)
    response = probe.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "checks": dict.fromkeys(CHECKS, "ok"), "failed": []}


@pytest.mark.django_db
def test_readyz_checks_a_redis_cache(probe, settings):
    # Production's cache. A key prefix of its own: the broker's keys share this Redis database.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
            "KEY_PREFIX": "readyz-test",
        }
    }
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().isoformat(), timeout=60)
    response = probe.get("/readyz")
    assert response.status_code == 200, response.content
    cache.delete(HEARTBEAT_CACHE_KEY)


@pytest.mark.django_db
@pytest.mark.parametrize("age, answer", [(None, "missing"), (timedelta(seconds=181), "stale")])
def test_readyz_fails_on_a_missing_or_stale_heartbeat(probe, settings, age, answer):
    settings.READYZ_HEARTBEAT_MAX_AGE_SECONDS = 180
    if age is None:
        cache.delete(HEARTBEAT_CACHE_KEY)
    else:
        cache.set(HEARTBEAT_CACHE_KEY, (timezone.now() - age).isoformat(), timeout=None)
    response = probe.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["heartbeat"] and response.json()["checks"]["heartbeat"] == answer


@pytest.mark.django_db
def test_a_heartbeat_within_the_max_age_is_recent(probe, settings):
    settings.READYZ_HEARTBEAT_MAX_AGE_SECONDS = 180
    cache.set(HEARTBEAT_CACHE_KEY, (timezone.now() - timedelta(seconds=170)).isoformat(), timeout=None)
    assert probe.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_fails_when_the_broker_is_unreachable(probe, settings, fresh_heartbeat):
    settings.CELERY_BROKER_URL = f"redis://:broker-password@127.0.0.1:{CLOSED_PORT}/0"
    started = time.monotonic()
    response = probe.get("/readyz")
    assert time.monotonic() - started < settings.READYZ_CHECK_TIMEOUT_SECONDS + 1
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"] and response.json()["checks"]["broker"] == "unreachable"
    # Neither the broker's address nor its password reaches the answer.
    assert b"127.0.0.1" not in response.content and b"broker-password" not in response.content


@pytest.mark.django_db
def test_readyz_fails_when_the_cache_is_unreachable(probe, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{CLOSED_PORT}/0",
        }
    }
    response = probe.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    # The heartbeat lives in the cache: not known, and not named as the cause.
    assert body["failed"] == ["cache"] and body["checks"] == {
        "database": "ok",
        "cache": "unreachable",
        "broker": "ok",
        "heartbeat": "unknown",
    }


@pytest.fixture
def database_down(django_db_blocker):
    """The default connection pointed at a port nothing listens on, then restored."""
    saved = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=CLOSED_PORT)
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def test_readyz_fails_when_the_database_is_unreachable(probe, fresh_heartbeat, database_down):
    response = probe.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"] and response.json()["checks"]["database"] == "unreachable"
