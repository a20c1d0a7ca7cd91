"""The refresh's claim and fence, against the live sandbox: the row is not held during the token call, and a pair
the exchange rotated is stored whenever it is the live one, never over a newer one, never into a row that moved on.
"""

import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from broker_portal.models import AuditEvent
from connectors import token_refresh
from connectors.models import ExchangeConnection
from connectors.token_refresh import Outcome, connection_refresh
from sandbox import oauth as sandbox_oauth
from sandbox.models import Client as SandboxClient
from sandbox.models import SandboxUser
from tests.connectors.helpers import assert_alive_at_the_sandbox

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def paused_token_call(monkeypatch):
    """The first token call reaches the sandbox for real (which rotates the pair), then waits for the test before
    its answer reaches the refresh: the test does what it likes in between."""
    answered, go_on = threading.Event(), threading.Event()
    real = token_refresh.post_token_request
    calls = []

    def paused(*args, **kwargs):
        token = real(*args, **kwargs)
        calls.append(token)
        if len(calls) == 1:
            answered.set()
            assert go_on.wait(30)
        return token

    monkeypatch.setattr(token_refresh, "post_token_request", paused)
    return answered, go_on


@contextmanager
def during_its_token_call(paused_token_call, connection_id: int):
    """Run a refresh in a thread and stop it after the exchange answered, before the refresh sees the answer;
    yields the lists its outcome (or error) lands in once the block is over."""
    answered, go_on = paused_token_call
    outcomes, errors = [], []

    def run():
        try:
            outcomes.append(connection_refresh(connection_id=connection_id).outcome)
        except Exception as error:  # pragma: no cover - reported by the test
            errors.append(error)
        finally:
            db_connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert answered.wait(30)
        yield outcomes, errors
    finally:
        go_on.set()
        thread.join(30)


def test_the_row_is_free_during_the_token_call_and_the_claim_keeps_siblings_off(make_connection, paused_token_call):
    connection = make_connection("kucoin")
    with during_its_token_call(paused_token_call, connection.pk) as (outcomes, errors):
        # Not locked: another transaction takes the row's lock at once (NOWAIT would fail on a held lock).
        with transaction.atomic():
            assert ExchangeConnection.objects.select_for_update(nowait=True).filter(pk=connection.pk).exists()
        row = ExchangeConnection.objects.get(pk=connection.pk)
        assert row.refresh_claim and row.refresh_claimed_until > timezone.now()
        # A worker finds it claimed and leaves it; nothing was sent twice.
        assert connection_refresh(connection_id=connection.pk, wait=False).outcome == Outcome.BUSY
    assert not errors and outcomes == [Outcome.REFRESHED]
    connection.refresh_from_db()
    assert connection.refresh_claim == "" and connection.refresh_claimed_until is None
    assert_alive_at_the_sandbox(connection)


def test_a_write_elsewhere_during_the_call_keeps_the_rotated_pair(make_connection, paused_token_call):
    """The fence fails (the row changed), but the row still holds the refresh token we spent: ours is the only
    live successor and is stored."""
    connection = make_connection("kucoin")
    with during_its_token_call(paused_token_call, connection.pk) as (outcomes, errors):
        other = ExchangeConnection.objects.get(pk=connection.pk)
        other.details = {"note": "written by someone else"}
        other.save(update_fields=["details", "updated_at"])
    assert not errors and outcomes == [Outcome.REFRESHED]
    connection.refresh_from_db()
    assert connection.details == {"note": "written by someone else"} and connection.refresh_claim == ""
    assert_alive_at_the_sandbox(connection)


def test_a_reconnection_during_the_call_is_not_overwritten(portal, make_connection, paused_token_call):
    connection = make_connection("kucoin")
    with during_its_token_call(paused_token_call, connection.pk) as (outcomes, errors):
        # The user connects the same account again meanwhile: a new authorization, a new family.
        client = SandboxClient.objects.get(exchange="kucoin", client_id=f"{portal['tenant'].slug}-kucoin")
        user = SandboxUser.objects.get(exchange="kucoin", email="trader@kucoin.sandbox")
        pair = sandbox_oauth._new_pair(client, user, list(client.permissions), family=uuid.uuid4().hex)
        reconnected = ExchangeConnection.objects.get(pk=connection.pk)
        reconnected.access_token, reconnected.refresh_token = pair.access_token, pair.refresh_token
        reconnected.access_expires_at = timezone.now() + timedelta(hours=1)
        reconnected.save()
    assert not errors and outcomes == [Outcome.FRESH]
    connection.refresh_from_db()
    assert connection.refresh_token == pair.refresh_token and connection.status == "active"
    assert_alive_at_the_sandbox(connection)
    assert AuditEvent.objects.filter(action="connection.refresh_discarded", target_id=str(connection.pk)).exists()


def test_a_lease_that_ran_out_under_a_stalled_refresh_ends_flagged_never_active_with_a_dead_pair(
    make_connection, paused_token_call
):
    """A refresh stalls past its lease; a sibling claims and sends the same refresh token, which the exchange
    treats as reuse and answers by revoking the family (the pair the stalled one got included). The connection
    says it needs the user, and the stalled refresh's late pair is not stored."""
    connection = make_connection("kucoin")
    with during_its_token_call(paused_token_call, connection.pk) as (outcomes, errors):
        ExchangeConnection.objects.filter(pk=connection.pk).update(
            refresh_claimed_until=timezone.now() - timedelta(seconds=1)
        )
        assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.NEEDS_REAUTHORIZATION
    assert not errors and outcomes == [Outcome.SKIPPED]
    connection.refresh_from_db()
    assert connection.status == "needs_reauthorization" and connection.refresh_claim == ""
    assert AuditEvent.objects.filter(action="connection.refresh_discarded", target_id=str(connection.pk)).exists()


def test_a_failed_refresh_leaves_no_claim_behind(make_connection, monkeypatch):
    connection = make_connection("kucoin")

    def failing(*args, **kwargs):
        raise RuntimeError("the worker's time limit")

    monkeypatch.setattr(token_refresh, "post_token_request", failing)
    with pytest.raises(RuntimeError):
        connection_refresh(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.refresh_claim == "" and connection.refresh_claimed_until is None
