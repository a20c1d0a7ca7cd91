"""The demo as bin/demo runs it: the development settings (SQLite in its own var directory, the filesystem Celery
broker, no Redis), the exchange sandbox as its own process with its own SQLite file, web, worker and beat. Chromium
withdraws on KuCoin through the exchange's codes; the demo's own worker refreshes tokens and runs two history syncs
at once, and nothing waits on a locked database."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import requests
from playwright.sync_api import expect

from broker_portal.demo import DEMO_PASSWORD
from sandbox.seeding import ACCOUNT_TEMPLATES, totp_secret_for

from .helpers import (
    confirm_with_authenticator,
    connect_kucoin,
    fill_kucoin_withdrawal_details,
    submit_with_kucoin_codes,
)

pytestmark = pytest.mark.browser

PROJECT = Path(__file__).resolve().parents[2]
# What the test run sets for its own settings; the demo runs on its embedded defaults instead.
TEST_ONLY_ENV = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "EXCHANGE_SANDBOX",
    "EXCHANGE_SANDBOX_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "PORTAL_VAR_DIR",
    "SANDBOX_DATABASE_URL",
}
START_SECONDS = 120


@dataclass
class RunningDemo:
    url: str
    sandbox_url: str
    env: dict
    log: Path

    def sandbox_account(self, exchange: str, local: str = "trader") -> dict:
        template = next(t for t in ACCOUNT_TEMPLATES if t["local"] == local)
        email = f"{local}@{exchange}.sandbox"
        return {"email": email, "password": template["password"], "totp_secret": totp_secret_for(1, exchange, email)}

    def shell(self, code: str) -> object:
        """Run Python in the demo's own settings (its SQLite file, its broker); the last line printed, as JSON."""
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=PROJECT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory):
    var = tmp_path_factory.mktemp("demo-var")
    port, sandbox_port = free_port(), free_port()
    env = {name: value for name, value in os.environ.items() if name not in TEST_ONLY_ENV}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "broker_portal.settings.development",
            "PORTAL_VAR_DIR": str(var),
            "PORTAL_PORT": str(port),
            "SANDBOX_PORT": str(sandbox_port),
            # Two weeks of history keeps the syncs to seconds; they still walk several pages each.
            "EXPORTS_HISTORY_DAYS": "14",
        }
    )
    log = var / "demo.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rundemo"],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    demo = RunningDemo(
        url=f"http://localhost:{port}", sandbox_url=f"http://localhost:{sandbox_port}/sandbox", env=env, log=log
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while "The broker portal is running." not in log.read_text() or not answers(f"{demo.url}/accounts/login/"):
            assert process.poll() is None, f"the demo exited with {process.returncode}:\n{log.read_text()[-5000:]}"
            assert time.monotonic() < deadline, f"the demo did not start:\n{log.read_text()[-5000:]}"
            time.sleep(0.5)
        yield demo
    finally:
        process.send_signal(signal.SIGTERM)  # what Ctrl-C does: rundemo stops its processes
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    assert "database is locked" not in log.read_text()


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def sign_in(page, url: str, email: str):
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("link", name="Connect KuCoin")).to_be_visible()


def test_the_demo_runs_its_sandbox_apart_and_withdraws_on_kucoin_through_its_codes(running_demo, page):
    page.set_viewport_size({"width": 1280, "height": 900})
    # The sandbox is its own service: the portal mounts none of it.
    assert requests.get(f"{running_demo.url}/sandbox/", timeout=5).status_code == 404
    assert answers(f"{running_demo.sandbox_url}/inbox/")
    sign_in(page, running_demo.url, "user@demo.example")

    # The portal's own authenticator, set up on its page as a new user would (the wizard asks for it).
    page.goto(f"{running_demo.url}/accounts/2fa/totp/activate/")
    page.fill("#id_password", DEMO_PASSWORD)  # allauth asks for the password again before a new factor
    page.get_by_role("button", name="Confirm").click()
    portal_totp = pyotp.TOTP(page.locator("#authenticator_secret").input_value())
    page.fill("input[name=code]", portal_totp.now())
    page.get_by_role("button", name="Activate").click()
    page.goto(f"{running_demo.url}/")

    account = running_demo.sandbox_account("kucoin")
    connect_kucoin(page, account)
    fill_kucoin_withdrawal_details(page)
    expect(page.locator("#total-debit")).to_have_text("0.02096153 BTC")
    page.get_by_role("button", name="Continue").click()
    # A code is taken once: the step-up uses the next period's (within the tolerance), not activation's again.
    confirm_with_authenticator(page, portal_totp.at(time.time() + 30))

    submit_with_kucoin_codes(page, running_demo.sandbox_url, account)
    expect(page.locator("#withdrawal-state")).to_have_text("Processing at the exchange")
    assert running_demo.shell(
        "import json; from withdrawals.models import Withdrawal; "
        "print(json.dumps(list(Withdrawal.objects.values_list('state', flat=True))))"
    ) == ["processing"]


CONNECTIONS = """
import json
from connectors.exchanges import history_source
from connectors.models import ExchangeConnection
from exports.models import SyncState
print(json.dumps({c.exchange: {
    "id": c.pk, "status": c.status, "last_error": c.last_error, "refresh_failures": c.refresh_failures,
    "last_refreshed_at": c.last_refreshed_at and c.last_refreshed_at.isoformat(),
    "kinds": sorted(history_source(c.exchange).kinds),
    "syncs": {s.kind: [bool(s.last_synced_at), s.last_error] for s in SyncState.objects.filter(connection=c)},
} for c in ExchangeConnection.objects.filter(user__email="user@acme.example")}))
"""


def wait_for(running_demo, done, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while True:
        connections = running_demo.shell(CONNECTIONS)
        if done(connections):
            return connections
        assert time.monotonic() < deadline, f"{connections}\n{running_demo.log.read_text()[-5000:]}"
        time.sleep(1)


def sync_ended(connection) -> bool:
    """Every kind of the connection's history synced, or one failed."""
    states = connection["syncs"]
    return any(error for _, error in states.values()) or (
        sorted(states) == connection["kinds"] and all(done for done, _ in states.values())
    )


def test_the_demo_worker_refreshes_tokens_and_runs_two_history_syncs_at_once(running_demo, page):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, f"http://acme.localhost:{running_demo.url.rsplit(':', 1)[1]}", "user@acme.example")
    connect_kucoin(page, running_demo.sandbox_account("kucoin"), withdrawal=False)
    kraken = running_demo.sandbox_account("kraken")
    page.locator('[data-exchange="kraken"]').get_by_role("link", name="Connect Kraken").click()
    page.get_by_role("button", name="Continue to Kraken").click()
    page.fill("#email", kraken["email"])
    page.fill("#password", kraken["password"])
    page.click("#sign-in")
    page.click("#approve")
    expect(page.get_by_text("Kraken is connected.")).to_be_visible()
    before = running_demo.shell(CONNECTIONS)
    assert set(before) == {"kucoin", "kraken"}

    # The demo's worker (a Celery process on the filesystem broker) renews both token pairs at the sandbox.
    ids = [before["kucoin"]["id"], before["kraken"]["id"]]
    running_demo.shell(
        f"from connectors.tasks import refresh_connection; "
        f"[refresh_connection.delay(i, force=True) for i in {ids}]; print('null')"
    )
    refreshed = wait_for(
        running_demo,
        lambda now: all(
            now[exchange]["last_refreshed_at"] != before[exchange]["last_refreshed_at"] for exchange in now
        ),
    )
    for connection in refreshed.values():
        assert (connection["status"], connection["last_error"], connection["refresh_failures"]) == ("active", "", 0)

    # Both connections' history at once (the worker runs two tasks side by side): both complete every kind.
    running_demo.shell(
        f"from exports.tasks import sync_connection; [sync_connection.delay(i) for i in {ids}]; print('null')"
    )
    synced = wait_for(running_demo, lambda now: all(map(sync_ended, now.values())), seconds=240)
    for exchange, connection in synced.items():
        assert all(done and not error for done, error in connection["syncs"].values()), (exchange, connection["syncs"])
