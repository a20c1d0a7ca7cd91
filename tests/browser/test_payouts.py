"""A broker admin pays three users in Chromium: the batch is made in the Django admin, the users' deposit
addresses are resolved at payout time, the broker's sends arrive on the sandbox's chain, and a real worker on Redis
reads each user's deposit history and marks every payout received; the admin sees the statuses."""

import re
import time

import pyotp
import pytest
import requests
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import expect

from broker_portal import services
from broker_portal.celery import app
from broker_portal.demo import DEMO_PASSWORD
from broker_portal.models import Membership, Tenant
from connectors.exchanges import EXCHANGES
from connectors.models import ExchangeConnection
from payouts.models import Payout
from tests.connectors.helpers import PortalBrowser

from .helpers import sign_in

pytestmark = pytest.mark.browser
# USDT on TRC20 as each exchange names the network; Kraken's key needs its Deposit permission.
PAYEES = {
    "kucoin": ("trx", None),
    "okx": ("USDT-TRC20", None),
    "kraken": ("Tether (TRC20)", [*EXCHANGES["kraken"].default_permissions, "account.fast-api-key:funds-add"]),
}
AMOUNTS = {"kucoin": "25", "okx": "10.5", "kraken": "0.000001"}


@pytest.fixture
def celery_worker(settings):
    settings.EXPORTS_SYNC_PAUSE_SCALE = 0
    settings.EXPORTS_HISTORY_DAYS = 2
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def connect_payees(live_server, demo) -> dict[str, ExchangeConnection]:
    tenant = Tenant.objects.get(slug="demo")
    connections = {}
    for exchange_id, (_, permissions) in PAYEES.items():
        email = f"payee-{exchange_id}@demo.example"
        services.member_create(
            tenant=tenant, email=email, password=DEMO_PASSWORD, role=Membership.Role.MEMBER, email_verified=True
        )
        browser = PortalBrowser(live_server.url)
        browser.sign_in(email, DEMO_PASSWORD)
        account = next(a for a in demo["sandbox_accounts"][exchange_id] if a["email"].startswith("trader@"))
        callback = browser.consent(
            browser.start_connect(exchange_id, permissions), account["email"], account["password"], scopes=permissions
        )
        assert browser.session.get(callback, allow_redirects=False).status_code == 302
        connections[exchange_id] = ExchangeConnection.objects.get(user__email=email)
    return connections


def test_a_payout_batch_of_three_users_is_confirmed_from_deposit_history(live_server, page, demo, celery_worker):
    connections = connect_payees(live_server, demo)
    admin = sign_in(page, live_server, demo, role=Membership.Role.BROKER_ADMIN)
    page.fill("input[name=code]", pyotp.TOTP(admin["totp_secret"]).now())
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()

    page.goto(f"{live_server.url}/admin/payouts/payoutbatch/add/")
    page.fill("#id_name", "December rewards")
    for index, (exchange_id, connection) in enumerate(connections.items()):
        page.select_option(f"#id_payouts-{index}-connection", str(connection.pk))
        page.fill(f"#id_payouts-{index}-asset", "USDT")
        page.fill(f"#id_payouts-{index}-network", PAYEES[exchange_id][0])
        page.fill(f"#id_payouts-{index}-amount", AMOUNTS[exchange_id])
        page.fill(f"#id_payouts-{index}-reference", f"dec-{exchange_id}")
    page.get_by_role("button", name="Create batch").click()
    expect(page.get_by_text("The batch “December rewards” created.")).to_be_visible()
    assert Payout.objects.filter(status=Payout.Status.PENDING).count() == 3

    # At payout time: resolve each user's current address.
    page.goto(f"{live_server.url}/admin/payouts/payoutbatch/")
    page.locator("input[name=_selected_action]").first.check()
    page.select_option("select[name=action]", "resolve_addresses")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("Addresses: 3 address resolved.")).to_be_visible()

    # The broker's wallet sends; the deposits arrive on the sandbox's chain. The KuCoin payout's transaction id is
    # typed in the admin.
    sent = {}
    for payout in Payout.objects.select_related("connection"):
        exchange_id = payout.connection.exchange
        answer = requests.post(
            f"{live_server.url}/sandbox/control/deposits",
            timeout=10,
            json={"exchange": exchange_id, "address": payout.address, "amount": AMOUNTS[exchange_id]},
        )
        assert answer.status_code == 201, answer.text
        sent[exchange_id] = answer.json()["txid"]
    page.get_by_role("link", name="December rewards").click()
    kucoin_row = Payout.objects.get(reference="dec-kucoin")
    index = list(Payout.objects.order_by("id").values_list("pk", flat=True)).index(kucoin_row.pk)
    page.fill(f"#id_payouts-{index}-txid", sent["kucoin"])
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    assert Payout.objects.get(pk=kucoin_row.pk).status == Payout.Status.SENT

    # The worker reads each user's deposit history and matches amount, asset and transaction id.
    page.goto(f"{live_server.url}/admin/payouts/payoutbatch/")
    page.locator("input[name=_selected_action]").first.check()
    page.select_option("select[name=action]", "check_deposits")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("Reading the deposit history of 3 connection(s)")).to_be_visible()
    wait_for(lambda: Payout.objects.filter(status=Payout.Status.RECEIVED).count() == 3)
    page.reload()
    row = page.locator("#result_list tbody tr").first
    expect(row.locator(".field-payouts_received")).to_have_text("3")
    page.get_by_role("link", name="December rewards").click()
    statuses = page.locator("td.field-status")
    expect(statuses).to_have_count(3)
    for cell in statuses.all():
        expect(cell).to_have_text("Received")
    for payout in Payout.objects.select_related("deposit", "connection"):
        assert payout.deposit.txid == sent[payout.connection.exchange]
