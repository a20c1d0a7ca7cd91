import pytest
from celery.contrib.testing.worker import start_worker

from broker_portal.celery import app


@pytest.fixture
def celery_worker():
    """A real worker (in a thread of this process) on the Redis broker."""
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
