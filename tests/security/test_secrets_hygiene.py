"""After real flows, no secret value is anywhere in the portal's tables or its logs."""

import logging

import pytest
from django.db import connection

from broker_portal.models import ExchangeCredential
from connectors.models import ExchangeConnection

pytestmark = pytest.mark.django_db(transaction=True)


def portal_tables_as_text() -> str:
    """Every row of every portal table, as PostgreSQL prints it (the sandbox's tables are the exchanges')."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'sandbox_%'")
        tables = [row[0] for row in cursor.fetchall()]
        dump = []
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            dump.extend(row[0] for row in cursor.fetchall())
    return "\n".join(dump)


def test_no_secret_in_any_table_or_log_after_connecting_every_exchange(browser_session, portal, sandbox_accounts,
                                                                         caplog):
    caplog.set_level(logging.DEBUG)
    for exchange_id in ("kucoin", "okx", "kraken", "peatio"):
        response = browser_session.connect(exchange_id, sandbox_accounts[exchange_id]["trader"])
        assert response.status_code == 302, response.text[:500]
        browser_session.session.get(f"{portal['url']}/")  # balances: signed calls with every key

    secrets = set()
    for row in ExchangeConnection.objects.all():
        secrets |= {row.access_token, row.refresh_token, row.api_secret, row.api_passphrase}
    for credential in ExchangeCredential.objects.all():
        secrets |= {credential.client_secret, credential.broker_key}
    secrets.discard("")
    assert len(secrets) >= 12

    stored = portal_tables_as_text()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret not in stored, "a secret is stored in plaintext"
        assert secret not in logged, "a secret was logged"
