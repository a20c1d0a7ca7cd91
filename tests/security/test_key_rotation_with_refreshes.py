"""Key rotation while workers refresh: a refresh that commits during the rotation keeps its new token pair."""

import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection as db_connection

from connectors import token_refresh
from connectors.models import ExchangeConnection
from connectors.token_refresh import Outcome, connection_refresh

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]


def test_a_refresh_committing_during_rotation_is_not_overwritten(make_connection, settings, monkeypatch):
    connection = make_connection("kucoin")
    stale_refresh = connection.refresh_token
    holding_lock, release = threading.Event(), threading.Event()
    real_token_request = token_refresh.post_token_request

    def slow_token_request(*args, **kwargs):
        token = real_token_request(*args, **kwargs)  # the real call to the sandbox's token endpoint
        holding_lock.set()  # the refresh holds the row lock and has spent the old refresh token
        release.wait(30)
        return token

    monkeypatch.setattr(token_refresh, "post_token_request", slow_token_request)
    outcomes, errors = [], []

    def refresher():
        try:
            outcomes.append(connection_refresh(connection_id=connection.pk, force=True).outcome)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            db_connection.close()

    def rotator():
        try:
            call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            db_connection.close()

    settings.FERNET_KEYS = ["rotated-key", *settings.FERNET_KEYS]
    refreshing = threading.Thread(target=refresher)
    refreshing.start()
    assert holding_lock.wait(30)
    rotating = threading.Thread(target=rotator)
    rotating.start()
    time.sleep(1)  # the rotation reaches the locked row and reads (or waits for) it
    release.set()
    refreshing.join(60)
    rotating.join(60)
    assert not errors and outcomes == [Outcome.REFRESHED]

    settings.FERNET_KEYS = ["rotated-key"]  # the old key is gone: every value was rewritten with the new one
    stored = ExchangeConnection.objects.get(pk=connection.pk)
    assert stored.refresh_token != stale_refresh
    # The pair the refresh stored is the live one: the next refresh spends it successfully.
    monkeypatch.setattr(token_refresh, "post_token_request", real_token_request)
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
