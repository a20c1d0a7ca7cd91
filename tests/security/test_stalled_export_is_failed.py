"""A worker killed mid-export stops the job's heartbeat: a beat sweep fails the job within minutes, removes its
partial file, and the user can start the export again. A live export's heartbeat keeps it running."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from exports import tasks
from exports.models import ExportJob
from exports.services.jobs import export_heartbeat
from exports.services.writers import export_path, exports_dir
from tests.exports.helpers import job_for, post_export


@pytest.mark.django_db
def test_a_job_whose_heartbeat_stopped_minutes_ago_is_failed_by_the_beat_sweep(
    staff_client, kucoin_history, tenant, settings
):
    client, accountant = staff_client()
    now = timezone.now()
    # Started ten minutes ago, far inside the task's time limit: only the stopped heartbeat shows it is dead.
    stalled = job_for(
        tenant,
        accountant,
        status="running",
        file_name="alpha-export-stalled.csv",
        started_at=now - timedelta(minutes=10),
        heartbeat_at=now - timedelta(minutes=5),
    )
    beating = job_for(
        tenant,
        accountant,
        status="running",
        file_name="alpha-export-beating.csv",
        started_at=now - timedelta(minutes=10),
        heartbeat_at=now - timedelta(seconds=20),
    )
    for job in (stalled, beating):
        export_path(job).write_text("Date,Sent Amount\n")
    assert settings.CELERY_BEAT_SCHEDULE["exports-fail-stalled"]["schedule"] <= 120
    tasks.fail_stalled_exports()
    status = client.get(f"/exports/{stalled.pk}/status").json()
    assert status["status"] == "failed" and "start it again" in status["error"].lower()
    assert not (exports_dir() / "alpha-export-stalled.csv").exists()
    beating.refresh_from_db()
    assert beating.status == "running" and export_path(beating).exists()
    assert post_export(client).status_code == 302  # the user starts again


@pytest.mark.django_db(transaction=True)
def test_a_running_export_beats_on_its_own_connection(staff_client, kucoin_history, tenant, settings):
    _, accountant = staff_client()
    settings.EXPORT_HEARTBEAT_SECONDS = 0.1
    job = job_for(tenant, accountant, status="running", started_at=timezone.now())
    with export_heartbeat(job_id=job.pk):
        time.sleep(0.5)  # the export's own work (a long COPY) writes nothing meanwhile
        first = ExportJob.objects.get(pk=job.pk).heartbeat_at
        time.sleep(0.3)
        assert first is not None and ExportJob.objects.get(pk=job.pk).heartbeat_at > first
    stopped = ExportJob.objects.get(pk=job.pk).heartbeat_at
    time.sleep(0.3)
    assert ExportJob.objects.get(pk=job.pk).heartbeat_at == stopped
