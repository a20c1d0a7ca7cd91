"""After real flows, no secret value is anywhere in the portal's tables or its logs."""

import json
import logging
import re
import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection

from connectors import services
from connectors.models import ExchangeConnection, ExchangeCredential
from tests.connectors.helpers import csrf_token, query_of
from tests.helpers import portal_log_written_as_json
from tests.withdrawals.helpers import codes_for, ready_to_submit
from withdrawals.services.submit import withdrawal_submit

pytestmark = pytest.mark.django_db(transaction=True)
TOTP_SEED = "JBSWY3DPEHPK3PXPHYGIENE2"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?")


@pytest.fixture
def written_log(celery_worker):
    """The worker's lines too. Taken once the worker runs: starting it sets Django up, which configures logging anew."""
    with portal_log_written_as_json() as written:
        yield written


@pytest.fixture
def small_history_syncs(settings):
    settings.EXPORTS_SYNC_PAUSE_SCALE = 0
    settings.EXPORTS_HISTORY_DAYS = 100  # the sandbox seeds the twelve weeks before now


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


def test_no_secret_in_any_table_or_log_after_the_full_flows(
    browser_session, portal, sandbox_accounts, caplog, written_log, small_history_syncs
):
    caplog.set_level(logging.DEBUG)
    withdrawal_groups = ["API_COMMON", "API_WITHDRAW_OAUTH"]
    callbacks = []
    for exchange_id in ("kucoin", "okx", "kraken", "peatio"):
        account = sandbox_accounts[exchange_id]["trader"]
        permissions, scopes = (withdrawal_groups, withdrawal_groups) if exchange_id == "kucoin" else (None, None)
        callbacks.append(
            browser_session.consent(
                browser_session.start_connect(exchange_id, permissions),
                account["email"],
                account["password"],
                scopes=scopes,
            )
        )
        response = browser_session.session.get(callbacks[-1], allow_redirects=False)
        assert response.status_code == 302, response.text[:500]
    oauth_values = {query_of(url)[name] for url in callbacks for name in ("code", "state")}
    assert len(oauth_values) == 8
    browser_session.session.get(f"{portal['url']}/")  # balances: signed calls with every key
    # A history sync asked for on the page with the request id a proxy would send, run by the worker.
    kraken_connection = ExchangeConnection.objects.get(exchange="kraken")
    page = browser_session.session.get(f"{portal['url']}/exports/")
    asked = browser_session.session.post(
        f"{portal['url']}/exports/sync/{kraken_connection.pk}",
        data={"csrfmiddlewaretoken": csrf_token(page.text)},
        headers={"X-Request-ID": "hygiene-sync-7f3a"},
        allow_redirects=False,
    )
    assert asked.status_code == 302 and asked.headers["X-Request-ID"] == "hygiene-sync-7f3a"
    # A withdrawal through the exchange's 2FA, and the portal's own MFA and Kraken's RSA key.
    withdrawal = ready_to_submit(portal, ExchangeConnection.objects.get(exchange="kucoin"))
    codes = codes_for(portal, sandbox_accounts)
    sent = withdrawal_submit(withdrawal_id=withdrawal.pk, tenant=portal["tenant"], user=portal["user"], codes=codes)
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

    task_lines = wait_for_task_lines(written_log, "exports.tasks.sync_connection")
    assert {line["request_id"] for line in task_lines} == {"hygiene-sync-7f3a"}
    assert any("succeeded" in line["message"] for line in task_lines)

    stored = portal_tables_as_text()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    written = written_log.getvalue()
    assert [json.loads(line) for line in written.splitlines()]  # one JSON object per line
    for secret in secrets:
        assert secret not in stored, "a secret is stored in plaintext"
        assert secret not in logged, "a secret was logged"
        assert secret not in written, "a secret was written to the log"
    for value in oauth_values:  # this process's HTTP client logs the callback it asks for: the handler redacts it
        assert value not in stored and value not in written, "an OAuth code or state was kept"
    # Six-digit codes, looked for as whole numbers outside timestamps and decimals (where digits are everywhere).
    without_times = TIMESTAMP.sub("", stored + "\n" + logged + "\n" + written)
    for code in codes.values():
        assert not re.search(rf"(?<![\d.]){code}(?!\d)", without_times), "a 2FA code was kept"


def wait_for_task_lines(written_log, task_name: str, seconds: float = 60) -> list[dict]:
    """The JSON lines written while the task ran, once the worker says it finished."""
    deadline = time.monotonic() + seconds
    while True:
        lines = [json.loads(line) for line in written_log.getvalue().splitlines()]
        mine = [line for line in lines if line.get("task", "").startswith(f"{task_name}[")]
        if any("succeeded" in line["message"] or "raised" in line["message"] for line in mine):
            return mine
        assert time.monotonic() < deadline, [line for line in lines if task_name in line["message"]] or mine
        time.sleep(0.2)
