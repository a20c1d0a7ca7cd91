"""Loaded into the benchmark's worker process (celery --include): counts the queries of refresh tasks the way
Django's assertNumQueries does (BEGIN and COMMIT included) and writes the totals at shutdown. Counting turns
on Django's debug cursor, so only every SAMPLE-th task is counted, to keep that cost out of the timing. Every
task's duration is summed too, so the benchmark can tell the worker's time inside tasks from Celery's around them."""

import json
import os
import time

from celery.signals import task_postrun, task_prerun, worker_shutdown
from django.db import connections
from django.test.utils import CaptureQueriesContext

REFRESH_TASK = "connectors.tasks.refresh_connection"
SAMPLE = 10
totals = {"queries": 0, "tasks": 0, "task_seconds": 0.0, "timed_tasks": 0}
_open = {}
_seen = {"tasks": 0}


@task_prerun.connect
def before(task=None, **kwargs):
    if task is not None and task.name == REFRESH_TASK:
        _open["started"] = time.perf_counter()
        _seen["tasks"] += 1
        if _seen["tasks"] % SAMPLE:
            return
        connections["default"].queries_log.clear()  # it keeps only the last 9,000
        _open["context"] = CaptureQueriesContext(connections["default"])
        _open["context"].__enter__()


@task_postrun.connect
def after(task=None, **kwargs):
    started = _open.pop("started", None)
    if started is not None:
        totals["task_seconds"] += time.perf_counter() - started
        totals["timed_tasks"] += 1
    context = _open.pop("context", None)
    if context is not None:
        context.__exit__(None, None, None)
        totals["queries"] += len(context)
        totals["tasks"] += 1


@worker_shutdown.connect
def write_totals(**kwargs):
    path = os.environ.get("BENCH_REFRESH_QUERY_FILE")
    if path:
        with open(path, "w") as out:
            json.dump(totals, out)
