"""A real worker on the Redis broker runs the portal's tasks."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache

from broker_portal.celery import app
from broker_portal.tasks import HEARTBEAT_CACHE_KEY, record_worker_heartbeat


@pytest.fixture(scope="module")
def celery_worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def test_worker_on_redis_runs_the_heartbeat(celery_worker, settings):
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    cache.delete(HEARTBEAT_CACHE_KEY)
    record_worker_heartbeat.apply_async()
    for _ in range(100):
        if cache.get(HEARTBEAT_CACHE_KEY):
            break
        time.sleep(0.1)
    assert cache.get(HEARTBEAT_CACHE_KEY)
