"""Helpers any test may import: members, exact query counts, the metrics scrape's samples, the portal's JSON log,
waiting."""

import contextlib
import dataclasses
import io
import logging
import time

import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from broker_portal import services
from broker_portal.celery import app as celery_app
from broker_portal.logs import JsonLineFormatter
from broker_portal.models import Membership
from connectors.token_refresh import connections_sweep

METRICS_TOKEN = "metrics-scrape-token-0123456789abcdef"


def make_member(tenant, email, role=Membership.Role.MEMBER, password="correct-horse-battery"):
    return services.member_create(tenant=tenant, email=email, password=password, role=role, email_verified=True)


@contextlib.contextmanager
def exact_queries(expected: int):
    """The block runs exactly this many queries; if not, the failure lists every query it ran, in order."""
    with CaptureQueriesContext(connection) as captured:
        yield captured
    sql = [query["sql"] for query in captured.captured_queries]
    listed = "\n".join(f"{number}. {text}" for number, text in enumerate(sql, 1))
    assert len(sql) == expected, f"{len(sql)} queries, not {expected}:\n{listed}"


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


def wait_until(condition, seconds: float, *, sweep: bool = False) -> float | None:
    """Seconds until the condition held (None if it did not), calling the sweep every second as beat would."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if sweep:
            connections_sweep()
        if condition():
            return time.monotonic() - start
        time.sleep(0.5 if not sweep else 1)
    return None


def celery_broker() -> tuple[redis.Redis, str]:
    """The real broker (no worker runs beside these tests) and its default queue."""
    return redis.Redis.from_url(django_settings.CELERY_BROKER_URL), celery_app.conf.task_default_queue


@dataclasses.dataclass(frozen=True)
class QueuedTask:
    name: str
    args: list
    eta: str | None  # set where the task was sent with a countdown
