"""The export pages: request, progress, authenticated and expiring download, audit, tenant isolation, queries."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone as dj_timezone

from broker_portal import services as portal_services
from broker_portal.models import AuditEvent, Membership
from connectors.models import ExchangeConnection
from exports.models import ExportJob
from exports.services.jobs import ABANDONED_AFTER, export_run, exports_delete_expired, exports_housekeeping
from exports.services.writers import export_path, exports_dir
from tests.exports.helpers import job_for, post_export
from tests.helpers import make_member


@pytest.fixture
def member_client(member, client_at):
    client = client_at("alpha.localhost")
    client.force_login(member)
    return client


def test_accountant_requests_an_export_that_is_audited_and_enqueued(
    staff_client, kucoin_history, tenant, django_capture_on_commit_callbacks
):
    client, accountant = staff_client()
    page = client.get("/exports/")
    assert page.status_code == 200 and "member@alpha.example" in page.content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_export(client)
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/exports/{job.pk}/"
    assert len(callbacks) == 1 and job.status == "pending" and job.requested_by == accountant
    event = AuditEvent.objects.get(action="export.requested")
    assert event.tenant == tenant and event.actor == accountant and event.details["format"] == "koinly"

    export_run(job=job)
    status = client.get(f"/exports/{job.pk}/status").json()
    assert (
        status["status"] == "done" and status["percent"] == 100 and status["row_counts"] == {"deposit": 4, "trade": 0}
    )
    download = client.get(status["download_url"])
    body = b"".join(download.streaming_content)
    assert download.status_code == 200 and download["Content-Type"] == "text/csv"
    assert "attachment" in download["Content-Disposition"] and download["Cache-Control"] == "private, no-store"
    assert hashlib.sha256(body).hexdigest() == status["sha256"] and body.count(b"\n") == 5
    assert AuditEvent.objects.get(action="export.downloaded").actor == accountant
    detail = client.get(f"/exports/{job.pk}/").content.decode()
    assert status["sha256"] in detail and 'id="export-progress"' in detail


def test_the_download_expires(staff_client, kucoin_history):
    client, accountant = staff_client()
    job = export_run(job=job_for(kucoin_history.tenant, accountant))
    ExportJob.objects.filter(pk=job.pk).update(expires_at=dj_timezone.now() - timedelta(seconds=1))
    assert client.get(f"/exports/{job.pk}/download").status_code == 410
    assert client.get(f"/exports/{job.pk}/status").json()["download_url"] is None
    assert not AuditEvent.objects.filter(action="export.downloaded").exists()
    assert exports_delete_expired() == 1 and not export_path(job).exists()


def test_another_tenants_job_answers_404(staff_client, kucoin_history, tenant, other_tenant):
    client, _ = staff_client()
    outsider = make_member(other_tenant, "accountant@beta.example", Membership.Role.ACCOUNTANT)
    foreign = export_run(job=job_for(other_tenant, outsider))
    for suffix in ("", "status", "download"):
        assert client.get(f"/exports/{foreign.pk}/{suffix}").status_code == 404
    other_connection = ExchangeConnection.objects.create(tenant=other_tenant, user=outsider, exchange="okx")
    assert client.post(f"/exports/sync/{other_connection.pk}").status_code == 404
    # Nor can another tenant's connection or user be chosen as a scope.
    response = post_export(client, scope="connection", connection=other_connection.pk)
    assert response.status_code == 200 and not ExportJob.objects.filter(tenant=tenant).exists()


def test_members_export_only_their_own_connections(
    member_client, member, kucoin_history, tenant, django_capture_on_commit_callbacks
):
    colleague = make_member(tenant, "colleague@alpha.example")
    theirs = ExchangeConnection.objects.create(tenant=tenant, user=colleague, exchange="okx")
    assert post_export(member_client, scope="tenant").status_code == 200
    assert post_export(member_client, scope="connection", connection=theirs.pk).status_code == 200
    assert not ExportJob.objects.exists()
    their_job = job_for(tenant, colleague)
    assert member_client.get(f"/exports/{their_job.pk}/status").status_code == 404
    assert member_client.post(f"/exports/sync/{theirs.pk}").status_code == 404

    with django_capture_on_commit_callbacks():
        response = post_export(member_client, scope="connection", connection=kucoin_history.pk, format="cointracker")
    assert response.status_code == 302
    job = ExportJob.objects.get(requested_by=member)
    assert job.scope_connection == kucoin_history
    page = member_client.get("/exports/").content.decode()
    assert "colleague@alpha.example" not in page and f'data-job="{their_job.pk}"' not in page


@pytest.mark.parametrize("change", ["demoted", "removed"])
def test_a_tenant_wide_export_is_out_of_reach_once_its_requester_is_no_longer_staff(
    staff_client, kucoin_history, tenant, change
):
    from rest_framework.test import APIClient

    from api.tokens import api_token_create

    client, accountant = staff_client()
    job = export_run(job=job_for(tenant, accountant))
    own = export_run(job=job_for(tenant, accountant, scope="user", scope_user=accountant))
    api = APIClient(HTTP_HOST="alpha.localhost")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=accountant, name='t')[1]}")
    assert client.get(f"/exports/{job.pk}/download").status_code == 200
    assert api.get(f"/api/v1/exports/{job.pk}/download/").status_code == 200

    membership = Membership.objects.get(tenant=tenant, user=accountant)
    if change == "demoted":
        portal_services.membership_set_role(membership=membership, role=Membership.Role.MEMBER)
    else:
        membership.delete()
    if change == "removed":
        # Someone who left keeps nothing: their session is ended and their token refused.
        assert client.get(f"/exports/{job.pk}/download")["Location"].startswith("/accounts/login/")
        assert client.get(f"/exports/{own.pk}/download")["Location"].startswith("/accounts/login/")
        assert api.get(f"/api/v1/exports/{job.pk}/download/").status_code == 401
        assert api.get("/api/v1/exports/").status_code == 401
        return
    for suffix in ("", "status", "download"):
        assert client.get(f"/exports/{job.pk}/{suffix}").status_code == 404
    for suffix in ("", "download/"):
        assert api.get(f"/api/v1/exports/{job.pk}/{suffix}").status_code == 404
    listed = [row["id"] for row in api.get("/api/v1/exports/").json()["results"]]
    # A member keeps the export of their own history.
    assert listed == [own.pk]
    assert client.get(f"/exports/{own.pk}/download").status_code == 200


def test_staff_without_mfa_are_sent_to_set_it_up_and_strangers_to_sign_in(tenant, client_at):
    accountant = make_member(tenant, "nomfa@alpha.example", Membership.Role.ACCOUNTANT)
    client = client_at("alpha.localhost")
    assert client.get("/exports/")["Location"].startswith("/accounts/login/")
    client.force_login(accountant)
    assert client.get("/exports/")["Location"] == "/accounts/2fa/totp/activate/"


def test_sync_now_is_audited_and_enqueued(member_client, kucoin_history, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post(f"/exports/sync/{kucoin_history.pk}")
    assert response.status_code == 302 and len(callbacks) == 1
    assert AuditEvent.objects.get(action="history.sync_requested").target_id == str(kucoin_history.pk)


def test_the_export_page_does_not_grow_queries_with_jobs(staff_client, kucoin_history, tenant, member):
    client, accountant = staff_client()
    job_for(tenant, accountant, scope="connection", scope_connection=kucoin_history)

    def count():
        with CaptureQueriesContext(db_connection) as queries:
            assert client.get("/exports/").status_code == 200
        return len(queries)

    one = count()
    for _ in range(5):
        job_for(tenant, accountant, scope="user", scope_user=member)
        job_for(tenant, accountant, scope="connection", scope_connection=kucoin_history)
    assert count() == one, one


@pytest.fixture
def interrupted(staff_client, kucoin_history, tenant):
    """RUNNING jobs with a partial file each: one started before the hard time limit (plus margin) ran out, so its
    worker is gone; one started two hours ago, whose worker is still writing."""
    client, accountant = staff_client()
    now = dj_timezone.now()
    jobs = {}
    for name, started_ago in (("abandoned", ABANDONED_AFTER + timedelta(minutes=1)), ("live", timedelta(hours=2))):
        job = job_for(
            tenant, accountant, status="running", file_name=f"alpha-export-{name}.csv", started_at=now - started_ago
        )
        export_path(job).write_text("Date,Sent Amount\n2025-01-01 00:00:00 UTC,0.5\n")
        jobs[name] = job
    return client, jobs


def assert_abandoned_failed_and_live_untouched(client, jobs):
    abandoned, live = jobs["abandoned"], jobs["live"]
    status = client.get(f"/exports/{abandoned.pk}/status").json()
    assert status["status"] == "failed" and "did not finish within 3 hours" in status["error"]
    assert not export_path(abandoned).exists()
    live.refresh_from_db()
    assert live.status == "running" and not live.error and export_path(live).exists()


def test_the_hourly_task_fails_a_job_whose_worker_is_gone_and_removes_its_partial_file(
    interrupted, kucoin_history, celery_broker_tasks
):
    from exports import tasks

    client, jobs = interrupted
    tasks.sync_all_connections()  # the syncs it enqueues wait in the queue
    assert [task.args for task in celery_broker_tasks() if task.name == tasks.sync_connection.name] == [
        [kucoin_history.pk]
    ]
    assert_abandoned_failed_and_live_untouched(client, jobs)


def test_a_redelivered_export_task_fails_a_job_whose_worker_is_gone_and_leaves_a_live_one(interrupted):
    from exports import tasks

    client, jobs = interrupted
    for job in jobs.values():
        tasks.run_export(job.pk)
    assert_abandoned_failed_and_live_untouched(client, jobs)


def test_files_left_by_failed_exports_are_removed(staff_client, kucoin_history, tenant):
    _, accountant = staff_client()
    failed = job_for(tenant, accountant, status="failed", file_name="alpha-export-left.csv", error="boom")
    export_path(failed).write_text("partial")
    assert exports_housekeeping() == {"abandoned": 0, "files_removed": 1}
    failed.refresh_from_db()
    assert not (exports_dir() / "alpha-export-left.csv").exists() and failed.file_name == ""
    assert exports_housekeeping()["files_removed"] == 0  # visited once


def test_a_run_records_when_it_started(staff_client, kucoin_history, tenant):
    _, accountant = staff_client()
    before = dj_timezone.now()
    job = export_run(job=job_for(tenant, accountant))
    assert before <= job.started_at <= job.finished_at


def test_the_exports_page_and_the_api_show_what_each_sync_covers_and_its_gaps(
    staff_client, kucoin_history, member, member_client, settings
):
    """KuCoin keeps a year of ledgers: with a history start two years back, the ledger's coverage starts later,
    and the page and the API say an export from before then misses rows."""
    from exports.models import SyncState

    settings.EXPORTS_HISTORY_DAYS = 730
    now = dj_timezone.now()
    SyncState.objects.create(
        connection=kucoin_history,
        kind="trade",
        covered_from=now - timedelta(days=730),
        covered_to=now - timedelta(hours=1),
        last_synced_at=now,
    )
    SyncState.objects.create(
        connection=kucoin_history,
        kind="ledger",
        covered_from=now - timedelta(days=365),
        covered_to=now - timedelta(hours=1),
        last_synced_at=now,
    )
    SyncState.objects.create(
        connection=kucoin_history,
        kind="deposit",
        resume_cursor={"since": 0, "until": 1},
        last_error="KuCoin is unavailable.",
    )
    client, _ = staff_client()
    page = client.get("/exports/").content.decode()
    ledger = page.split('data-kind="ledger"')[1].split("</li>")[0]
    assert 'class="gap"' in ledger and "the exchange keeps 365 days" in ledger
    assert (now - timedelta(days=365)).strftime("%Y-%m-%d") in ledger
    trade = page.split('data-kind="trade"')[1].split("</li>")[0]
    assert "gap" not in trade.split(">")[0] and "complete" in trade
    deposit = page.split('data-kind="deposit"')[1].split("</li>")[0]
    assert "not synced yet" in deposit and "under way" in deposit and "KuCoin is unavailable." in deposit
    assert "Withdrawals: not synced yet" in " ".join(page.split())

    listed = member_client.get("/api/v1/history-sync/")
    assert listed.status_code == 200, listed.content
    [row] = listed.json()["results"]
    assert (row["connection"], row["exchange"]) == (kucoin_history.pk, "kucoin")
    coverage = {item["kind"]: item for item in row["coverage"]}
    assert coverage["ledger"]["gap_before"] and coverage["ledger"]["kept_days"] == 365
    assert not coverage["trade"]["gap_before"] and coverage["trade"]["covered_to"]
    assert coverage["withdrawal"]["covered_from"] is None and coverage["withdrawal"]["gap_before"]
    assert coverage["deposit"]["in_progress"] and coverage["deposit"]["error"] == "KuCoin is unavailable."


def test_the_coverage_on_the_exports_page_costs_no_query_per_connection(staff_client, tenant, member):
    client, _ = staff_client()
    client.get("/exports/")

    def page_queries():
        with CaptureQueriesContext(db_connection) as queries:
            assert client.get("/exports/").status_code == 200
        return len(queries)

    few = page_queries()
    for n in range(5):
        ExchangeConnection.objects.create(
            tenant=tenant, user=member, exchange=("kucoin", "okx", "kraken")[n % 3], exchange_account_id=f"account-{n}"
        )
    assert page_queries() <= few + 2


def test_an_export_no_synced_row_falls_in_is_refused_with_the_synced_range_until_confirmed(
    staff_client, kucoin_history, tenant
):
    client, _ = staff_client()
    empty = post_export(client, date_from="2026-01-01", date_to="2026-06-30").content.decode()
    assert not ExportJob.objects.exists()
    assert "No synced row falls in 2026-01-01 – 2026-06-30, so the file would be empty." in empty
    assert "The synced history of this choice runs from 2025-01-01 to 2025-01-04." in empty
    assert 'id="allow-empty"' in empty
    # Nothing synced at all for this choice says so.
    withdrawals = post_export(client, kinds=["withdrawal"]).content.decode()
    assert "Nothing of this choice has been synced yet" in withdrawals and not ExportJob.objects.exists()
    confirmed = post_export(client, date_from="2026-01-01", date_to="2026-06-30", allow_empty="on")
    assert confirmed.status_code == 302 and ExportJob.objects.count() == 1
    # A range with rows needs no confirmation.
    assert post_export(client).status_code == 302 and ExportJob.objects.count() == 2


def test_the_default_range_reaches_back_to_the_oldest_synced_row_and_each_kind_shows_its_rows(
    staff_client, kucoin_history
):
    from exports.models import SyncState

    SyncState.objects.create(
        connection=kucoin_history,
        kind="deposit",
        covered_from=datetime(2025, 1, 1, tzinfo=UTC),
        covered_to=dj_timezone.now(),
        rows_stored=4,
        last_synced_at=dj_timezone.now(),
    )
    client, _ = staff_client()
    page = client.get("/exports/").content.decode()
    assert 'name="date_from" value="2025-01-01"' in page
    deposit = page.split('data-kind="deposit"')[1].split("</li>")[0]
    assert '<span class="rows">4 rows</span>' in deposit
    listed = client.get("/api/v1/history-sync/").json()
    assert {item["kind"]: item["rows"] for item in listed["results"][0]["coverage"]}["deposit"] == 4


def test_the_pages_state_when_a_link_expires(staff_client, kucoin_history, settings):
    settings.EXPORTS_LINK_HOURS = 6
    client, accountant = staff_client()
    pending = job_for(kucoin_history.tenant, accountant)
    assert "can be downloaded for 6 hours, then it is deleted" in client.get(f"/exports/{pending.pk}/").content.decode()
    done = export_run(job=pending)
    until = done.expires_at.strftime("%Y-%m-%d %H:%M")
    detail = client.get(f"/exports/{done.pk}/").content.decode()
    assert f'works until <span id="export-expires">{until}</span> UTC' in detail
    assert f'<span class="muted expires">until {until} UTC</span>' in client.get("/exports/").content.decode()
