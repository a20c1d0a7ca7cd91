"""/metrics: only for the configured token or addresses; what it exposes, from real rows; a scrape's cost."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from broker_portal.audit import record_audit_event
from broker_portal.celery import app
from broker_portal.settings.base import ip_networks
from connectors.models import ExchangeConnection
from connectors.token_refresh import REFRESH_ATTEMPTS
from exports.models import ExportJob, SyncState
from exports.services.sync import HISTORY_SYNC_PASSES
from tests.helpers import METRICS_TOKEN as TOKEN
from tests.helpers import make_member, metric
from withdrawals.models import Withdrawal

POD_ADDRESS = "10.42.0.17:8000"


@pytest.fixture
def scraper():
    return Client(HTTP_HOST=POD_ADDRESS)


@pytest.fixture
def token_configured(settings):
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def test_unconfigured_metrics_answer_no_one(scraper, settings):
    settings.METRICS_BEARER_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    response = scraper.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404 and b"portal_" not in response.content


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_a_caller_without_the_token_is_refused(scraper, token_configured, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = scraper.get("/metrics", **extra)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert b"portal_" not in response.content and TOKEN.encode() not in response.content


@pytest.mark.django_db
def test_an_allowed_address_needs_no_token_and_a_forwarded_one_is_not_believed(scraper, settings):
    settings.METRICS_BEARER_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ip_networks(["10.0.0.0/8", "2001:db8::/32"])
    assert scraper.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert scraper.get("/metrics", REMOTE_ADDR="2001:db8::7").status_code == 200
    refused = scraper.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.1.2.3")
    assert refused.status_code == 403 and b"portal_" not in refused.content


def test_a_malformed_allowed_address_is_refused_at_start():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="10.0.0.300"):
        ip_networks(["10.0.0.0/8", "10.0.0.300"])


@pytest.fixture
def portal_rows(tenant):
    """Connections, withdrawals, exports, sync states and a lapse warning, as the services leave them."""
    member = make_member(tenant, "trader@alpha.example")
    now = timezone.now()

    def connection(exchange, status, account, **fields):
        return ExchangeConnection.objects.create(
            tenant=tenant, user=member, exchange=exchange, status=status, exchange_account_id=account, **fields
        )

    kucoin = connection("kucoin", "active", "k1", refresh_lapse_warned_at=now)
    connection("kucoin", "active", "k2")
    connection("kucoin", "needs_reauthorization", "k3")
    okx = connection("okx", "error", "o1")
    record_audit_event(
        tenant=tenant,
        action="connection.refresh_lapsing",
        target=kucoin,
        details={"exchange": "kucoin", "refresh_expires_at": now.isoformat()},
    )
    quote = {
        "total_debit": Decimal("1.0005"),
        "amount_received": Decimal("1"),
        "service_fee": Decimal("0"),
        "chain_fee": Decimal("0.0005"),
    }
    for state, extra in [
        ("draft", {}),
        ("succeeded", {"exchange_withdrawal_id": "W1", **quote}),
        ("succeeded", {"exchange_withdrawal_id": "W2", **quote}),
        ("failed", quote),
    ]:
        Withdrawal.objects.create(
            tenant=tenant,
            user=member,
            connection=kucoin,
            exchange="kucoin",
            state=state,
            currency="USDT",
            destination="addr",
            amount=Decimal("1"),
            **extra,
        )
    job = {"tenant": tenant, "scope": "tenant", "format": "csv", "date_from": now.date(), "date_to": now.date()}
    ExportJob.objects.create(
        **job,
        status="done",
        file_name="f.csv",
        sha256="0" * 64,
        started_at=now - timedelta(seconds=42),
        finished_at=now,
    )
    ExportJob.objects.create(**job, status="failed", started_at=now - timedelta(seconds=3), finished_at=now)
    ExportJob.objects.create(**job, status="pending")
    SyncState.objects.create(connection=kucoin, kind="trade")
    SyncState.objects.create(connection=kucoin, kind="ledger", last_error="KuCoin is unavailable")
    SyncState.objects.create(connection=okx, kind="trade", last_error="OKX is unavailable")
    return {"tenant": tenant, "member": member, "kucoin": kucoin}


@pytest.mark.django_db
def test_metrics_expose_connections_withdrawals_exports_syncs_and_lapses(scraper, scrape_metrics, portal_rows):
    samples = scrape_metrics(scraper)

    assert metric(samples, "portal_exchange_connections", exchange="kucoin", status="active") == 2
    assert metric(samples, "portal_exchange_connections", exchange="kucoin", status="needs_reauthorization") == 1
    assert metric(samples, "portal_exchange_connections", exchange="okx", status="error") == 1
    assert metric(samples, "portal_exchange_connections_lapse_warned", exchange="kucoin") == 1
    assert metric(samples, "portal_exchange_connections_lapse_warned", exchange="okx") == 0
    assert metric(samples, "portal_token_lapse_warnings_total", exchange="kucoin") == 1
    assert metric(samples, "portal_withdrawals", exchange="kucoin", state="succeeded") == 2
    assert metric(samples, "portal_withdrawals", exchange="kucoin", state="draft") == 1
    assert metric(samples, "portal_withdrawals", exchange="kucoin", state="failed") == 1
    assert metric(samples, "portal_export_jobs", format="csv", status="done") == 1
    assert metric(samples, "portal_export_jobs", format="csv", status="pending") == 1
    # The done job took 42 s: above the 30 s bound, at or below 60 s.
    assert metric(samples, "portal_export_duration_seconds_bucket", format="csv", status="done", le="30.0") == 0
    assert metric(samples, "portal_export_duration_seconds_bucket", format="csv", status="done", le="60.0") == 1
    assert metric(samples, "portal_export_duration_seconds_count", format="csv", status="done") == 1
    assert metric(samples, "portal_export_duration_seconds_sum", format="csv", status="done") == pytest.approx(42)
    assert metric(samples, "portal_export_duration_seconds_count", format="csv", status="failed") == 1
    assert metric(samples, "portal_history_sync_states", exchange="kucoin", kind="ledger") == 1
    assert metric(samples, "portal_history_sync_failing", exchange="kucoin", kind="ledger") == 1
    assert metric(samples, "portal_history_sync_failing", exchange="kucoin", kind="trade") == 0
    assert metric(samples, "portal_history_sync_failing", exchange="okx", kind="trade") == 1
    # Every series of the event counters exists from the start, at zero.
    assert metric(samples, "portal_token_refresh_duration_seconds_count", exchange="kucoin", outcome="retry") == 0
    assert (
        metric(samples, "portal_history_sync_duration_seconds_count", exchange="okx", kind="deposit", outcome="failed")
        == 0
    )
    # Nothing about the process or the platform: no version of anything.
    assert not [name for name, _ in samples if not name.startswith("portal_")]


@pytest.mark.django_db
def test_events_recorded_by_any_process_reach_the_scrape(scraper, scrape_metrics):
    """Workers record refreshes and sync passes in the shared cache; the scrape reads them back."""
    REFRESH_ATTEMPTS.record(seconds=0.3, exchange="kucoin", outcome="refreshed")
    REFRESH_ATTEMPTS.record(seconds=12, exchange="kucoin", outcome="refreshed")
    REFRESH_ATTEMPTS.record(seconds=0.05, exchange="kraken", outcome="retry")
    with pytest.raises(RuntimeError), HISTORY_SYNC_PASSES.timed(exchange="okx", kind="trade"):
        raise RuntimeError("the exchange went away")
    with HISTORY_SYNC_PASSES.timed(exchange="okx", kind="trade"):
        pass
    samples = scrape_metrics(scraper)

    refreshed = {"exchange": "kucoin", "outcome": "refreshed"}
    assert metric(samples, "portal_token_refresh_duration_seconds_count", **refreshed) == 2
    assert metric(samples, "portal_token_refresh_duration_seconds_bucket", le="0.5", **refreshed) == 1
    assert metric(samples, "portal_token_refresh_duration_seconds_bucket", le="10.0", **refreshed) == 1
    assert metric(samples, "portal_token_refresh_duration_seconds_bucket", le="20.0", **refreshed) == 2
    assert metric(samples, "portal_token_refresh_duration_seconds_sum", **refreshed) == pytest.approx(12.3)
    assert metric(samples, "portal_token_refresh_duration_seconds_count", exchange="kraken", outcome="retry") == 1
    for outcome in ("completed", "failed"):
        assert (
            metric(samples, "portal_history_sync_duration_seconds_count", exchange="okx", kind="trade", outcome=outcome)
            == 1
        )


@pytest.mark.django_db
def test_queue_depth_is_read_from_the_broker(scraper, scrape_metrics, settings):
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    app.control.purge()
    before = metric(scrape_metrics(scraper), "portal_celery_queue_messages", queue="celery")
    for _ in range(3):
        app.send_task("broker_portal.tasks.record_worker_heartbeat")
    try:
        after = metric(scrape_metrics(scraper), "portal_celery_queue_messages", queue="celery")
    finally:
        app.control.purge()
    assert (before, after) == (0, 3)


@pytest.mark.django_db
def test_without_a_broker_the_scrape_answers_without_queue_depth(scraper, scrape_metrics, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    samples = scrape_metrics(scraper)
    assert not [name for name, _ in samples if name == "portal_celery_queue_messages"]
    assert [name for name, _ in samples if name == "portal_token_refresh_duration_seconds_count"]  # the rest is there


@pytest.mark.django_db
def test_a_scrape_costs_the_same_few_queries_whatever_the_rows(
    scraper, scrape_metrics, portal_rows, django_assert_num_queries
):
    with django_assert_num_queries(5):
        scrape_metrics(scraper)
    member, tenant = portal_rows["member"], portal_rows["tenant"]
    for index in range(20):
        ExchangeConnection.objects.create(
            tenant=tenant, user=member, exchange="kraken", exchange_account_id=f"x{index}"
        )
    with django_assert_num_queries(5):
        scrape_metrics(scraper)
