import base64
import json

import pytest
from django.core.cache import cache
from django.test import Client

from broker_portal import services
from broker_portal.celery import app as celery_app
from broker_portal.models import Membership
from tests.helpers import METRICS_TOKEN, QueuedTask, celery_broker, make_member

pytest_plugins = [
    "tests.fixtures.admin",
    "tests.fixtures.api",
    "tests.fixtures.authorization_server",
    "tests.fixtures.canned_answers",
    "tests.fixtures.exports",
    "tests.fixtures.live_portal",
    "tests.fixtures.refresh",
    "tests.fixtures.withdrawals",
    "tests.fixtures.workers",
]


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

    app.loader.import_default_modules()  # the tasks a worker registers: a name enqueued runs here, not at the broker
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
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


@pytest.fixture
def celery_broker_queue_length():
    """Messages waiting in the default queue of the real broker; emptied after the test."""
    broker, queue = celery_broker()
    yield lambda: broker.llen(queue)
    broker.delete(queue)


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
