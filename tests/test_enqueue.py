"""Services enqueue tasks by name (broker_portal/enqueue.py): a misspelt name would only fail in a worker, so every
name the code hands to the helpers must be a task the workers register."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from broker_portal.celery import app
from broker_portal.enqueue import enqueue_on_commit

PROJECT = Path(settings.BASE_DIR)
ENQUEUED = re.compile(r"""\benqueue(?:_on_commit|_each)?\(\s*["']([\w.]+)["']""")


def names_enqueued() -> dict[str, str]:
    found = {}
    for path in PROJECT.glob("*/**/*.py"):
        if path.parts[len(PROJECT.parts)] in {".venv", "tests", "bench", "sandbox"}:
            continue
        for name in ENQUEUED.findall(path.read_text()):
            found.setdefault(name, str(path.relative_to(PROJECT)))
    return found


def test_every_name_enqueued_is_a_registered_task():
    app.loader.import_default_modules()
    enqueued = names_enqueued()
    unregistered = {name: where for name, where in enqueued.items() if name not in app.tasks}
    assert not unregistered, f"enqueued by name but no such task: {unregistered}"


def test_the_scan_finds_the_names_it_checks():
    # Guards the check above against a pattern that silently matches nothing.
    assert "exports.tasks.run_export" in names_enqueued()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_request_enqueues_nothing(celery_broker_queue_length):
    before = celery_broker_queue_length()
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit("broker_portal.tasks.record_worker_heartbeat")
        raise RuntimeError("the request failed")
    assert celery_broker_queue_length() == before
    with transaction.atomic():
        enqueue_on_commit("broker_portal.tasks.record_worker_heartbeat")
        assert celery_broker_queue_length() == before
    assert celery_broker_queue_length() == before + 1
