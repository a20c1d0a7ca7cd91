"""The exchange's id of a connection's key is kept encrypted and wiped on disconnect: for OKX Fast API keys and
Peatio access keys that id is the API key itself, so it was a plaintext API key in the database."""

import pytest
from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor

from connectors.models import ExchangeConnection
from tests.connectors.helpers import connect_okx, disconnect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]

BEFORE, AFTER = ("connectors", "0002_refresh_health"), ("connectors", "0003_encrypt_api_key_id")


def stored_row(pk: int) -> bytes:
    """Every column of the row as PostgreSQL holds it (a Fernet token is ASCII, so bytea columns are decoded)."""
    with db.cursor() as cursor:
        cursor.execute("SELECT row_to_json(c)::text FROM connectors_exchangeconnection c WHERE id = %s", [pk])
        text = cursor.fetchone()[0]
        cursor.execute("SELECT api_key_id FROM connectors_exchangeconnection WHERE id = %s", [pk])
        stored = cursor.fetchone()[0]
    return text.encode() + (bytes(stored) if isinstance(stored, memoryview) else str(stored).encode())


def test_the_okx_fast_api_key_is_nowhere_in_plaintext_and_gone_after_disconnect(
    browser_session, portal, sandbox_accounts
):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    connection = ExchangeConnection.objects.get()
    assert connection.api_key and connection.api_key_id
    assert connection.api_key.encode() not in stored_row(connection.pk)
    assert connection.api_key_id.encode() not in stored_row(connection.pk)
    assert "is disconnected" in disconnect(browser_session, portal, connection).text
    connection = ExchangeConnection.objects.get()
    assert (connection.api_key, connection.api_key_id, connection.api_secret, connection.api_passphrase) == ("",) * 4


def test_the_migration_encrypts_ids_already_stored(tenant, member):
    pk = ExchangeConnection.objects.create(tenant=tenant, user=member, exchange="peatio", api_key="k").pk
    executor = MigrationExecutor(db)
    executor.migrate([BEFORE])
    with db.cursor() as cursor:  # as the column held it before: plaintext
        cursor.execute(
            "UPDATE connectors_exchangeconnection SET api_key_id = 'plain-peatio-access-key' WHERE id = %s", [pk]
        )
    executor = MigrationExecutor(db)
    executor.migrate([AFTER])
    assert b"plain-peatio-access-key" not in stored_row(pk)
    executor = MigrationExecutor(db)
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema the current model reads (and later tests)
    assert ExchangeConnection.objects.get(pk=pk).api_key_id == "plain-peatio-access-key"
