"""The dashboard's balances never wait on an exchange: snapshots with their age, one read at a time per
connection, failures remembered briefly; amounts, totals and charts as people read them."""

import re
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests
from django.core.cache import cache
from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectors import balances
from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.selectors import card_balances, dashboard_totals
from connectors.templatetags.balances import age, amount, value
from sandbox.faults import fault_set
from sandbox.models import Fault

PRODUCTION_WAIT = 0.05  # BALANCES_PAGE_WAIT_SECONDS's default (broker_portal/settings/base.py)


def age_snapshot(connection_id: int, seconds: float) -> None:
    """Make a connection's snapshot as old as if it had been read ``seconds`` ago."""
    kept = cache.get(balances.snapshot_key(connection_id))
    kept["fetched_at"] = (timezone.now() - timedelta(seconds=seconds)).isoformat()
    cache.set(balances.snapshot_key(connection_id), kept)


def snapshot(rows: dict, prices: dict, *, seconds_ago: float = 0, **extra) -> dict:
    return {
        "balances": [{"currency": code, "total": total} for code, total in rows.items()],
        "prices": prices,
        "fetched_at": (timezone.now() - timedelta(seconds=seconds_ago)).isoformat(),
        "error": "",
        **extra,
    }


def test_amounts_have_separators_and_the_currency_after_them():
    assert amount(Decimal("12345.678900000000000000"), "BTC") == "12,345.6789 BTC"
    assert amount(Decimal("1E-8"), "BTC") == "0.00000001 BTC"
    assert amount(Decimal("4E+2")) == "400"
    assert value(Decimal("97500"), "USDT") == "97,500.00 USDT"
    assert age(timezone.now()) == "just now"
    assert age(timezone.now() - timedelta(minutes=2, seconds=5)) == "2\xa0minutes ago"


def test_an_asset_without_a_price_makes_no_total_and_the_order_is_by_code():
    card = card_balances(snapshot({"USDT": "10", "PTN": "5", "BTC": "0.5"}, {"USDT": "1"}))
    assert [row["currency"] for row in card["balances"]] == ["BTC", "PTN", "USDT"]
    assert card["total_usdt"] is None and card["unpriced"] == ["BTC", "PTN"] and card["priced_usdt"] == Decimal("10")
    priced = card_balances(snapshot({"USDT": "10", "BTC": "0.5"}, {"USDT": "1", "BTC": "60000"}))
    assert priced["total_usdt"] == Decimal("30010.00")
    totals = dashboard_totals(
        [{**card, "name": "Peatio", "connection": None}, {**priced, "name": "KuCoin", "connection": None}]
    )
    assert totals["total"] == Decimal("30020.00") and totals["unpriced"] == ["BTC", "PTN"]
    assert [(row["label"], row["bar"]) for row in totals["per_asset"]] == [("BTC", 100), ("USDT", Decimal("0.1"))]
    assert [row["label"] for row in totals["per_exchange"]] == ["Peatio", "KuCoin"]


def test_a_tenant_in_another_reference_currency_sees_its_totals_in_it():
    prices = {"USDT": "1", "BTC": "65000", "USDC": "0.9998"}  # the exchange's USDT prices, USDC among them
    card = card_balances(snapshot({"BTC": "1.5", "USDC": "100", "USDT": "10"}, prices), "USDC")
    values = {row["currency"]: row["value_usdt"] for row in card["balances"]}
    # 97,500 USDT over 0.9998 USDT a USDC, the USDC as it is, the USDT at the same rate: exact Decimals, to the cent.
    assert values == {"BTC": Decimal("97519.50"), "USDC": Decimal("100.00"), "USDT": Decimal("10.00")}
    assert card["total_usdt"] == Decimal("97629.50") and card["unpriced"] == []
    totals = dashboard_totals([{**card, "name": "KuCoin", "connection": None}], "USDC")
    assert totals["currency"] == "USDC" and totals["total"] == Decimal("97629.50")
    assert card_balances(snapshot({"BTC": "1.5"}, prices))["total_usdt"] == Decimal("97500.00")  # USDT by default
    unquoted = card_balances(snapshot({"BTC": "1.5", "USDC": "100"}, {"USDT": "1", "BTC": "65000"}), "USDC")
    assert unquoted["total_usdt"] is None and unquoted["unpriced"] == ["BTC"]  # no USDC price: none for BTC either


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("exchange", ["kucoin", "okx", "kraken"])
def test_the_dashboard_shows_each_exchanges_balances_in_the_tenants_currency(
    browser_session, portal, sandbox_accounts, exchange
):
    """A real read at the sandbox: every exchange quotes USDC against USDT at its own ticker."""
    tenant = portal["tenant"]
    tenant.reference_currency = "USDC"
    tenant.save(update_fields=["reference_currency"])
    assert browser_session.connect(exchange, sandbox_accounts[exchange]["trader"]).status_code == 302
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    kept = cache.get(balances.snapshot_key(ExchangeConnection.objects.get().pk))
    assert Decimal(kept["prices"]["USDC"]) == Decimal("0.9998")  # sandbox/exchanges.py QUOTED_ONLY_USDT
    btc = re.search(
        r'data-currency="BTC">.*?<td class="num muted" data-label="Value">([^<]*)</td>', dashboard, re.S
    ).group(1)
    held = Decimal(
        re.search(r"([\d,.]+) BTC", re.search(r'data-currency="BTC">.*?</tr>', dashboard, re.S).group(0))
        .group(1)
        .replace(",", "")
    )
    assert btc == f"{(held * 65000 / Decimal('0.9998')).quantize(Decimal('0.01')):,} USDC"
    assert re.search(r'<p class="total">≈ [\d,]+\.\d\d USDC</p>', dashboard)
    assert re.search(r'<p class="total-all">≈ [\d,]+\.\d\d USDC</p>', dashboard)
    values = re.findall(r'<td class="num muted" data-label="Value">([^<]*)</td>', dashboard)
    assert values and all(value.endswith(" USDC") for value in values)  # every value, none left in USDT


@pytest.fixture
def four_connections(tenant, member):
    """The member's four connections, each with a snapshot read a minute ago (nothing is due)."""
    made = []
    for exchange in ("kucoin", "okx", "kraken", "peatio"):
        ExchangeCredential.objects.create(
            tenant=tenant,
            exchange=exchange,
            client_id=f"{exchange}-client",
            authorize_base_url="https://x.test",
            api_base_url="https://x.test",
        )
        made.append(
            ExchangeConnection.objects.create(
                tenant=tenant,
                user=member,
                exchange=exchange,
                access_token="t",
                api_key="k" * 24,
                api_secret="s",
                permissions=["General"],
            )
        )
    return made


@pytest.mark.django_db
def test_dashboard_queries_do_not_grow_with_connections(four_connections, member):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(member)
    for made in four_connections:
        cache.set(
            balances.snapshot_key(made.pk),
            snapshot({"BTC": "1.5", "USDT": "25000"}, {"USDT": "1", "BTC": "65000"}, seconds_ago=30),
        )
    ExchangeConnection.objects.exclude(pk=four_connections[0].pk).update(status="revoked")
    client.get("/")
    with CaptureQueriesContext(db) as one:
        page = client.get("/").content.decode()
    assert page.count('data-currency="BTC"') == 1
    ExchangeConnection.objects.update(status="active")
    with CaptureQueriesContext(db) as four:
        page = client.get("/").content.decode()
    assert page.count('data-currency="BTC"') == 4, page.count('data-currency="BTC"')
    assert "≈ 490,000.00 USDT" in page  # 4 × (1.5 × 65,000 + 25,000)
    assert re.search(r"Balances as of <time datetime=[^>]+>3\d seconds ago</time>", page)
    # The tenant's host, the session, the user, the membership, the tenant's enabled credentials (the exchanges
    # offered) and the user's connections; the balances come from the cache, and cost no query for any exchange.
    assert len(four) == len(one) == 6, "\n".join(q["sql"] for q in four.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_a_hanging_exchange_does_not_delay_the_dashboard(browser_session, portal, sandbox_accounts, settings):
    assert browser_session.connect("kucoin", sandbox_accounts["kucoin"]["trader"]).status_code == 302
    assert 'data-currency="BTC"' in browser_session.session.get(f"{portal['url']}/").text
    connection = ExchangeConnection.objects.get()
    settings.BALANCES_PAGE_WAIT_SECONDS = PRODUCTION_WAIT
    age_snapshot(connection.pk, 120)  # due: the next load starts a read
    # The read hangs, and so does its one retry.
    fault_set(exchange="kucoin", endpoint="accounts", kind="hang", delay_seconds=2.5, count=2)

    started = time.monotonic()
    dashboard = browser_session.session.get(f"{portal['url']}/", timeout=5).text
    assert time.monotonic() - started < 2  # well inside the hang: the page did not wait for the exchange
    assert cache.get(balances.fill_lock_key(connection.pk)) is not None  # ... whose read is still under way
    assert 'data-currency="BTC"' in dashboard and "updating" in dashboard  # the last balances, with their age

    cache.delete(balances.snapshot_key(connection.pk))  # a cold cache: nothing to show yet, and still no wait
    started = time.monotonic()
    dashboard = browser_session.session.get(f"{portal['url']}/", timeout=5).text
    assert time.monotonic() - started < 2
    assert "Reading your balances at KuCoin" in dashboard and 'data-currency="BTC"' not in dashboard

    deadline = time.monotonic() + 10  # the hung read answers 504 and is remembered as a failure
    while cache.get(balances.fill_lock_key(connection.pk)) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "Balances are unavailable right now" in dashboard
    assert ExchangeConnection.objects.get().status == "active"


@pytest.mark.django_db(transaction=True)
def test_twenty_loads_at_expiry_make_one_read(browser_session, portal, sandbox_accounts, settings):
    assert browser_session.connect("kucoin", sandbox_accounts["kucoin"]["trader"]).status_code == 302
    assert 'data-currency="BTC"' in browser_session.session.get(f"{portal['url']}/").text
    settings.BALANCES_PAGE_WAIT_SECONDS = PRODUCTION_WAIT
    age_snapshot(ExchangeConnection.objects.get().pk, 120)
    fault = fault_set(exchange="kucoin", endpoint="accounts", kind="slow", delay_seconds=1, count=100)
    cookies = browser_session.session.cookies
    pages = []

    def load():
        pages.append(requests.get(f"{portal['url']}/", cookies=cookies, timeout=10).text)

    threads = [threading.Thread(target=load) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pages) == 20 and all('data-currency="BTC"' in page for page in pages)
    time.sleep(1.5)  # the one read finishes
    assert 100 - Fault.objects.get(pk=fault.pk).remaining == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_read_is_remembered_then_tried_again(browser_session, portal, sandbox_accounts, settings):
    assert browser_session.connect("kucoin", sandbox_accounts["kucoin"]["trader"]).status_code == 302
    cache.clear()
    fault = fault_set(exchange="kucoin", endpoint="accounts", kind="500", count=100)
    for _ in range(3):
        assert "Balances are unavailable right now" in browser_session.session.get(f"{portal['url']}/").text
    assert 100 - Fault.objects.get(pk=fault.pk).remaining == 2  # one read (and its one retry) for three loads
    settings.BALANCES_FAILURE_SECONDS = 0
    Fault.objects.all().delete()
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "Balances are unavailable" not in dashboard and 'data-currency="BTC"' in dashboard


@pytest.mark.django_db
def test_beat_warms_the_connections_of_users_signed_in_lately(four_connections, member):
    assert balances.connections_balances_warm() == 0  # never signed in
    member.last_login = timezone.now()
    member.save(update_fields=["last_login"])
    fresh = four_connections[0]
    cache.set(balances.snapshot_key(fresh.pk), snapshot({"BTC": "1"}, {}, seconds_ago=0))
    assert balances.connections_balances_warm() == 4  # a snapshot due within beat's next minute is read too
    ExchangeConnection.objects.filter(pk=fresh.pk).update(status="revoked")
    assert balances.connections_balances_warm() == 3


@pytest.mark.django_db
def test_the_api_gives_the_same_snapshot_with_its_age(four_connections, tenant, member):
    from api.tokens import api_token_create

    kucoin, peatio = four_connections[0], four_connections[3]
    cache.set(balances.snapshot_key(kucoin.pk), snapshot({"BTC": "1.5"}, {"USDT": "1", "BTC": "65000"}, seconds_ago=30))
    cache.set(balances.snapshot_key(peatio.pk), snapshot({"BTC": "1.5"}, {"USDT": "1"}, seconds_ago=30))
    client = Client(
        HTTP_HOST="alpha.localhost",
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=member, name='x')[1]}",
    )
    answer = client.get(f"/api/v1/connections/{kucoin.pk}/balances/").json()
    [btc] = answer["balances"]
    assert btc["currency"] == "BTC" and Decimal(btc["total"]) == Decimal("1.5") and btc["value_usdt"] == "97500.00"
    assert answer["total_usdt"] == "97500.00" and answer["reading"] is False and answer["error"] == ""
    assert 25 < (timezone.now() - datetime.fromisoformat(answer["as_of"])).total_seconds() < 60
    answer = client.get(f"/api/v1/connections/{peatio.pk}/balances/").json()
    assert answer["balances"][0]["value_usdt"] is None and answer["total_usdt"] is None  # no misleading total


@pytest.mark.django_db(transaction=True)
def test_connecting_has_a_worker_read_the_balances_before_the_dashboard_asks(browser_session, portal, sandbox_accounts):
    from broker_portal.celery import app as celery_app

    celery_app.conf.task_always_eager = True  # the worker's task runs here, once the connection is committed
    try:
        assert browser_session.connect("kucoin", sandbox_accounts["kucoin"]["trader"]).status_code == 302
    finally:
        celery_app.conf.task_always_eager = False
    kept = cache.get(balances.snapshot_key(ExchangeConnection.objects.get().pk))
    assert kept["fetched_at"] and kept["error"] == "" and "BTC" in {row["currency"] for row in kept["balances"]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "outcome, says",
    [
        (
            {"api_key_deleted": True, "api_key_left": False, "tokens_revoked": True, "hint": ""},
            [
                "The API key the portal used was deleted at KuCoin.",
                "KuCoin confirmed that the portal's access is revoked.",
            ],
        ),
        (
            {
                "api_key_deleted": False,
                "api_key_left": True,
                "tokens_revoked": False,
                "hint": "Delete it under API keys.",
            },
            ["is still at KuCoin: Delete it under API keys."],
        ),
        (
            {"api_key_deleted": False, "api_key_left": False, "tokens_revoked": False, "hint": ""},
            ["KuCoin did not confirm that the portal's access is revoked"],
        ),
    ],
)
def test_a_disconnected_card_says_what_happened(four_connections, member, outcome, says):
    ExchangeConnection.objects.filter(exchange="kucoin").update(status="revoked", details={"disconnected": outcome})
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(member)
    page = client.get("/").content.decode()
    assert "You disconnected KuCoin on" in page
    assert "Access token valid until" not in page  # no token is kept, so no expiry to show
    for text in says:
        assert text in page
