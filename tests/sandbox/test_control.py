"""Faults, the clock, seeding, the management commands and the standalone server."""

import json
import os
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.db import connection

from sandbox import faults as sandbox_faults
from sandbox.models import Fault, HistoryRecord, SandboxUser
from sandbox.services import seed_accounts

from .support import KUCOIN_REDIRECT, authorize_code

pytestmark = pytest.mark.django_db(transaction=True)
PROJECT = Path(__file__).resolve().parents[2]


def set_fault(base, **fault):
    response = requests.post(base + "/control/faults", json=fault)
    assert response.status_code == 201, response.text
    return response.json()


def test_count_limited_500_then_normal(base, clients):
    set_fault(base, exchange="kucoin", endpoint="prices", kind="500", count=2)
    url = base + "/kucoin/api/v1/prices"
    assert [requests.get(url).status_code for _ in range(3)] == [500, 500, 200]
    assert requests.get(base + "/control/faults").json() == []  # used up


def test_429_with_retry_after_by_path(base, clients):
    set_fault(base, exchange="okx", endpoint="/v5/users/oauth/token", kind="429", retry_after=7)
    response = requests.post(base + "/okx/v5/users/oauth/token", data={})
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    listed = requests.get(base + "/control/faults").json()
    assert listed[0]["kind"] == "429" and listed[0]["remaining"] is None
    assert requests.delete(base + "/control/faults").json() == {"cleared": 1}
    assert requests.post(base + "/okx/v5/users/oauth/token", data={}).status_code == 400


def test_invalid_grant_fault(base, clients):
    set_fault(base, exchange="kraken", endpoint="token", kind="invalid_grant", count=1)
    response = requests.post(base + "/kraken/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_slow_hang_and_reset(base, clients):
    set_fault(base, exchange="kucoin", endpoint="prices", kind="slow", delay_seconds=0.6, count=1)
    started = time.monotonic()
    assert requests.get(base + "/kucoin/api/v1/prices").status_code == 200
    assert time.monotonic() - started >= 0.6
    set_fault(base, exchange="kucoin", endpoint="prices", kind="hang", delay_seconds=2, count=1)
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(base + "/kucoin/api/v1/prices", timeout=0.5)
    set_fault(base, exchange="kucoin", endpoint="prices", kind="reset", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(base + "/kucoin/api/v1/prices", timeout=5)
    time.sleep(1.6)  # let the hanging request finish before the database is flushed


@pytest.fixture
def seeded_faults():
    """The live server serves one call after another here: the same calls meet the same faults on every run."""
    sandbox_faults.fault_seed(7)
    yield
    sandbox_faults.fault_seed(None)


def test_probability_and_bad_faults(base, clients, seeded_faults):
    assert (
        requests.post(
            base + "/control/faults", json={"exchange": "kucoin", "endpoint": "x", "kind": "nope"}
        ).status_code
        == 400
    )
    assert (
        requests.post(
            base + "/control/faults", json={"exchange": "kucoin", "endpoint": "x", "kind": "500", "probability": 0}
        ).status_code
        == 400
    )
    set_fault(base, exchange="kucoin", endpoint="prices", kind="500", probability=0.5)
    codes = {requests.get(base + "/kucoin/api/v1/prices").status_code for _ in range(40)}
    assert codes == {200, 500}


def test_clock_endpoint(base, transactional_db):
    assert requests.post(base + "/control/clock", json={"offset_seconds": 3600}).json()["offset_seconds"] == 3600
    assert requests.get(base + "/control/clock").json()["offset_seconds"] == 3600
    assert requests.delete(base + "/control/clock").json()["offset_seconds"] == 0


def test_fault_command(transactional_db):
    out = StringIO()
    call_command(
        "sandbox_fault",
        "set",
        "--exchange",
        "okx",
        "--endpoint",
        "token",
        "--kind",
        "429",
        "--count",
        "3",
        "--retry-after",
        "5",
        stdout=out,
    )
    assert json.loads(out.getvalue())["remaining"] == 3
    out = StringIO()
    call_command("sandbox_fault", "list", stdout=out)
    assert len(json.loads(out.getvalue())) == 1
    call_command("sandbox_fault", "clear", stdout=StringIO())
    assert not Fault.objects.exists()
    out = StringIO()
    call_command("sandbox_fault", "clock", "--offset", "120", stdout=out)
    assert json.loads(out.getvalue())["offset_seconds"] == 120


def test_seed_is_idempotent_and_deterministic(transactional_db):
    first = seed_accounts(history_rows=10, seed=7)
    txids = list(HistoryRecord.objects.order_by("user__email", "kind", "time").values_list("txid", flat=True))
    second = seed_accounts(history_rows=10, seed=7)
    assert first == second and SandboxUser.objects.count() == 12
    assert list(HistoryRecord.objects.order_by("user__email", "kind", "time").values_list("txid", flat=True)) == txids
    without_2fa = [user for users in first.values() for user in users if user["totp_secret"] is None]
    assert len(without_2fa) == 4
    out = StringIO()
    call_command("sandbox_seed", "--history-rows", "12", "--json", stdout=out)
    assert HistoryRecord.objects.filter(user__email="trader@okx.sandbox", kind="trade").count() == 12
    assert set(json.loads(out.getvalue())) == {"kucoin", "okx", "kraken", "peatio"}


def test_large_history_is_fast(transactional_db):
    started = time.monotonic()
    seed_accounts(history_rows=5000, seed=3)  # 12 accounts x 4 kinds x 5000 = 240,000 rows
    assert HistoryRecord.objects.count() == 240_000
    assert time.monotonic() - started < 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_run_sandbox_standalone_shares_faults_through_the_database(accounts, clients):
    port = free_port()
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "broker_portal.settings.test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "--port", str(port)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/sandbox/kucoin/api/v1/prices"
        for _ in range(100):
            try:
                response = requests.get(url, timeout=2)
                break
            except requests.exceptions.ConnectionError:
                time.sleep(0.1)
        assert response.json()["data"]["BTC"] == "65000"
        Fault.objects.create(exchange="kucoin", endpoint="prices", kind="reset", remaining=1)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, timeout=5)
        assert requests.get(url, timeout=5).status_code == 200
        # The consent pages work there too (sessions and CSRF).
        user = accounts["kucoin"]["trader"]
        login = (
            f"http://127.0.0.1:{port}/sandbox/kucoin-www/oauth?response_type=code&client_id=kc-broker"
            f"&redirect_uri={KUCOIN_REDIRECT}&scope=OAUTH_CREATE_API&state=z"
        )
        assert authorize_code(login, user["email"], user["password"])["state"] == "z"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_control_registers_a_client_as_the_partner_team_would(base, transactional_db):
    from sandbox.models import Client

    application = {
        "exchange": "kucoin",
        "client_id": "broker-one",
        "client_secret": "broker-one-secret",
        "redirect_uris": ["http://localhost:8000/connect/kucoin/callback/"],
        "permissions": ["General"],
    }
    response = requests.post(base + "/control/clients", json=application)
    assert response.status_code == 201, response.text
    assert response.json()["broker_name"] == "broker-one-broker-name"
    assert Client.objects.get(exchange="kucoin", client_id="broker-one").client_secret == "broker-one-secret"
    # Again with other redirect URIs: the application is updated, not doubled.
    assert requests.post(base + "/control/clients", json={**application, "redirect_uris": ["http://x/cb"]}).ok
    assert list(Client.objects.filter(client_id="broker-one").values_list("redirect_uris", flat=True)) == [
        ["http://x/cb"]
    ]

    assert requests.post(base + "/control/clients", json={**application, "secret": "x"}).status_code == 400
    assert requests.post(base + "/control/clients", json={**application, "exchange": "nasdaq"}).status_code == 400
    assert requests.get(base + "/control/clients").status_code == 405


def test_control_seeds_accounts_and_lists_them(base, transactional_db):
    response = requests.post(base + "/control/seed", json={"history_rows": 3})
    assert response.status_code == 200, response.text
    trader = next(a for a in response.json()["kucoin"] if a["email"] == "trader@kucoin.sandbox")
    assert trader["password"] == "Sandbox-Trader-1" and trader["totp_secret"]
    assert HistoryRecord.objects.filter(user__email="trader@kucoin.sandbox", synthetic=True).count() == 3 * len(
        HistoryRecord.Kind.values
    )
    assert requests.post(base + "/control/seed", json={"history_rows": "many"}).status_code == 400
