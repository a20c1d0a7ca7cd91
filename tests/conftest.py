import base64
import contextlib
import dataclasses
import io
import json
import logging

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client

from broker_portal import services
from broker_portal.celery import app as celery_app
from broker_portal.logs import JsonLineFormatter
from broker_portal.models import Membership


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters and cached balances must not leak from one test into the next."""
    cache.clear()
    yield


@pytest.fixture
def tasks_run_inline():
    """Tasks enqueued during the test run where they are enqueued, as a worker would run them (Celery's eager mode);
    the workers themselves are exercised by the tests that start real ones."""
    from broker_portal.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def tenant(db):
    return services.tenant_create(name="Alpha Broker", slug="alpha", hosts=["alpha.localhost"])


@pytest.fixture
def other_tenant(db):
    return services.tenant_create(name="Beta Broker", slug="beta", hosts=["beta.localhost"])


def make_member(tenant, email, role=Membership.Role.MEMBER, password="correct-horse-battery"):
    return services.member_create(tenant=tenant, email=email, password=password, role=role, email_verified=True)


@pytest.fixture
def member(tenant):
    return make_member(tenant, "member@alpha.example")


@pytest.fixture
def broker_admin(tenant):
    return make_member(tenant, "admin@alpha.example", Membership.Role.BROKER_ADMIN)


@pytest.fixture
def client_at():
    """A test client whose requests go to the given host."""

    def make(host: str) -> Client:
        return Client(HTTP_HOST=host)

    return make


METRICS_TOKEN = "metrics-scrape-token-0123456789abcdef"


@pytest.fixture
def scrape_metrics(settings):
    """scrape_metrics() -> /metrics as Prometheus reads it with the configured token: {(sample, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    settings.METRICS_BEARER_TOKEN = METRICS_TOKEN

    def scrape(client: Client | None = None, **extra) -> dict:
        client = client or Client(HTTP_HOST="10.42.0.17:8000")  # a pod's address, as a scraper sends it
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}", **extra)
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples}

    return scrape


def metric(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@contextlib.contextmanager
def portal_log_written_as_json():
    """What the portal's own log handler (settings.LOGGING: redacted, with request ids) writes, as JSON lines."""
    handler = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    formatter, stream = handler.formatter, handler.setStream(io.StringIO())
    handler.setFormatter(JsonLineFormatter())
    try:
        yield handler.stream
    finally:
        handler.setFormatter(formatter)
        handler.setStream(stream)


def celery_broker() -> tuple[redis.Redis, str]:
    """The real broker (no worker runs beside these tests) and its default queue."""
    return redis.Redis.from_url(django_settings.CELERY_BROKER_URL), celery_app.conf.task_default_queue


@pytest.fixture
def celery_broker_queue_length():
    """Messages waiting in the default queue of the real broker; emptied after the test."""
    broker, queue = celery_broker()
    yield lambda: broker.llen(queue)
    broker.delete(queue)


@dataclasses.dataclass(frozen=True)
class QueuedTask:
    name: str
    args: list
    eta: str | None  # set where the task was sent with a countdown


@pytest.fixture
def celery_broker_tasks(celery_broker_queue_length):
    """The tasks the test sends to the real broker's default queue, oldest first, as a worker would receive them:
    sent there, not run in the test (eager mode off meanwhile); the queue is empty when the test starts."""
    broker, queue = celery_broker()
    broker.delete(queue)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False

    def queued() -> list[QueuedTask]:
        tasks = []
        for raw in reversed(broker.lrange(queue, 0, -1)):  # the broker pushes each message to the list's head
            message = json.loads(raw)
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            tasks.append(QueuedTask(name=message["headers"]["task"], args=args, eta=message["headers"].get("eta")))
        return tasks

    yield queued
    celery_app.conf.task_always_eager = eager
