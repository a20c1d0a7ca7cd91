"""The demo accountant in Chromium: syncs a member's KuCoin history, requests a Koinly export, watches the
progress bar finish (a real worker on Redis runs both tasks) and downloads the file the manifest describes."""

import csv
import hashlib
import io
import re
import time

import pyotp
import pytest
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import expect

from broker_portal.celery import app
from broker_portal.demo import DEMO_PASSWORD
from exports.models import HistoryEntry, SyncState
from exports.selectors import completed_movements
from sandbox.models import HistoryRecord
from tests.connectors.helpers import PortalBrowser

from .helpers import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def celery_worker(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.EXPORTS_SYNC_PAUSE_SCALE = 0
    # The sandbox seeds the twelve weeks before now: no need to walk a year of KuCoin's day windows back.
    settings.EXPORTS_HISTORY_DAYS = 100
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_demo_accountant_exports_koinly_and_downloads_it(live_server, page, demo, celery_worker):
    # A demo member connects KuCoin (the sandbox's trader account and its seeded history).
    member = PortalBrowser(live_server.url)
    member.sign_in("user@demo.example", DEMO_PASSWORD)
    trader = next(a for a in demo["sandbox_accounts"]["kucoin"] if a["email"].startswith("trader@"))
    assert member.connect("kucoin", trader).status_code == 302

    accountant = sign_in(page, live_server, demo, role="accountant")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.fill("input[name=code]", pyotp.TOTP(accountant["totp_secret"]).now())
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.get_by_role("link", name="Exports").click()

    # Sync now: the worker pulls the history from the sandbox.
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text("history is being synced")).to_be_visible()
    wait_for(lambda: SyncState.objects.filter(last_synced_at__isnull=False).count() == 4, seconds=120)
    synced = HistoryRecord.objects.filter(user__email=trader["email"], user__exchange="kucoin").count()
    assert HistoryEntry.objects.count() == synced > 0
    # Koinly's file holds each movement once: KuCoin's ledger rows that repeat a trade or transfer stay out.
    expected = HistoryEntry.objects.filter(completed_movements()).count()
    assert 0 < expected < synced

    page.goto(f"{live_server.url}/exports/")
    page.select_option("#id_scope", "tenant")
    page.select_option("#id_format", "koinly")
    page.fill("#id_date_from", "2023-01-01")
    page.fill("#id_date_to", "2026-12-31")
    page.get_by_role("button", name="Request export").click()

    expect(page.locator("#export-status")).to_have_text("Ready", timeout=30_000)
    expect(page.locator("#export-progress")).to_have_attribute("value", "100")
    expect(page.locator("#export-rows")).to_have_text(str(expected))
    sha256 = page.locator("#export-sha256").inner_text()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    body = open(download_info.value.path(), "rb").read()
    assert hashlib.sha256(body).hexdigest() == sha256
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0][:3] == ["Date", "Sent Amount", "Sent Currency"] and len(rows) == expected + 1
    assert download_info.value.suggested_filename.startswith("demo-koinly-2023-01-01-2026-12-31")
