import contextlib
import io
import logging

import pytest
from django.core.cache import cache
from django.test import Client

from broker_portal import services
from broker_portal.logs import JsonLineFormatter
from broker_portal.models import Membership


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters and cached balances must not leak from one test into the next."""
    cache.clear()
    yield


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
