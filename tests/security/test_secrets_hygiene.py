"""After real flows, no secret value is anywhere in the portal's tables or its logs."""

import logging
import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection

from broker_portal import services
from broker_portal.models import ExchangeCredential
from connectors.models import ExchangeConnection
from tests.withdrawals.conftest import codes_for, ready_to_submit
from withdrawals import services as withdrawal_services

pytestmark = pytest.mark.django_db(transaction=True)
TOTP_SEED = "JBSWY3DPEHPK3PXPHYGIENE2"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?")


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


def test_no_secret_in_any_table_or_log_after_the_full_flows(browser_session, portal, sandbox_accounts, caplog):
    caplog.set_level(logging.DEBUG)
    withdrawal_groups = ["API_COMMON", "API_WITHDRAW_OAUTH"]
    kucoin = sandbox_accounts["kucoin"]["trader"]
    callback = browser_session.consent(browser_session.start_connect("kucoin", withdrawal_groups), kucoin["email"],
                                       kucoin["password"], scopes=withdrawal_groups)
    assert browser_session.session.get(callback, allow_redirects=False).status_code == 302
    for exchange_id in ("okx", "kraken", "peatio"):
        response = browser_session.connect(exchange_id, sandbox_accounts[exchange_id]["trader"])
        assert response.status_code == 302, response.text[:500]
    browser_session.session.get(f"{portal['url']}/")  # balances: signed calls with every key
    # A withdrawal through the exchange's 2FA, and the portal's own MFA and Kraken's RSA key.
    withdrawal = ready_to_submit(portal, ExchangeConnection.objects.get(exchange="kucoin"))
    codes = codes_for(portal, sandbox_accounts)
    sent = withdrawal_services.withdrawal_submit(withdrawal_id=withdrawal.pk, tenant=portal["tenant"],
                                                 user=portal["user"], codes=codes)
    assert sent.state == "processing"
    TOTP.activate(portal["user"], TOTP_SEED)
    kraken = services.credential_generate_rsa_key_pair(credential=ExchangeCredential.objects.get(exchange="kraken"))

    secrets = {TOTP_SEED, kraken.rsa_private_key.splitlines()[1]}
    for row in ExchangeConnection.objects.all():
        secrets |= {row.access_token, row.refresh_token, row.api_secret, row.api_passphrase}
    for credential in ExchangeCredential.objects.all():
        secrets |= {credential.client_secret, credential.broker_key}
    secrets.discard("")
    assert len(secrets) >= 16

    stored = portal_tables_as_text()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret not in stored, "a secret is stored in plaintext"
        assert secret not in logged, "a secret was logged"
    # Six-digit codes, looked for as whole numbers outside timestamps and decimals (where digits are everywhere).
    without_times = TIMESTAMP.sub("", stored + "\n" + logged)
    for code in codes.values():
        assert not re.search(rf"(?<![\d.]){code}(?!\d)", without_times), "a 2FA code was kept"
