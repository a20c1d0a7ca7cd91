"""Loaded into the benchmark's worker process (celery --include): counts the queries of refresh tasks the way
Django's assertNumQueries does (BEGIN and COMMIT included) and writes the totals at shutdown. Counting turns
on Django's debug cursor, so only every SAMPLE-th task is counted, to keep that cost out of the timing.

It also sums each task's duration and, within it, the token call's, so the benchmark can say where the portal's
time goes: the exchange call, the rest of the task (database, Python), and Celery around the task; and the
process's CPU time from the first refresh's start to the last one's end, which bounds what one process can do
whatever the exchange's speed (its threads share one interpreter lock)."""

import json
import os
import threading
import time

from celery.signals import task_postrun, task_prerun, worker_shutdown
from django.db import connections
from django.test.utils import CaptureQueriesContext

import connectors.token_refresh
from broker_portal.celery import app

# What this worker publishes (a batch's refreshes, fanned out) goes to the benchmark's queue too.
app.conf.task_default_queue = "bench-refresh"

REFRESH_TASK = "connectors.tasks.refresh_connection"
SAMPLE = 10
totals = {
    "queries": 0,
    "tasks": 0,
    "task_seconds": 0.0,
    "token_call_seconds": 0.0,
    "timed_tasks": 0,
    "cpu_first": None,
    "cpu_last": None,
    "refreshes": 0,
}
_open = threading.local()  # a thread pool runs several tasks at once
_lock = threading.Lock()
_seen = {"tasks": 0}


@task_prerun.connect
def before(task=None, **kwargs):
    if task is not None and task.name == REFRESH_TASK:
        _open.started = time.perf_counter()
        with _lock:
            if totals["cpu_first"] is None:
                totals["cpu_first"] = time.process_time()
            _seen["tasks"] += 1
            if _seen["tasks"] % SAMPLE:
                return
        connections["default"].queries_log.clear()  # it keeps only the last 9,000
        _open.context = CaptureQueriesContext(connections["default"])
        _open.context.__enter__()


@task_postrun.connect
def after(task=None, **kwargs):
    started, _open.started = getattr(_open, "started", None), None
    context, _open.context = getattr(_open, "context", None), None
    if context is not None:
        context.__exit__(None, None, None)
    with _lock:
        if started is not None:
            totals["task_seconds"] += time.perf_counter() - started
            totals["timed_tasks"] += 1
            totals["refreshes"] += 1
            totals["cpu_last"] = time.process_time()
        if context is not None:
            totals["queries"] += len(context)
            totals["tasks"] += 1


def timed_token_call(call):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            with _lock:
                totals["token_call_seconds"] += time.perf_counter() - started

    return timed


connectors.token_refresh.post_token_request = timed_token_call(connectors.token_refresh.post_token_request)


@worker_shutdown.connect
def write_totals(**kwargs):
    path = os.environ.get("BENCH_REFRESH_QUERY_FILE")
    if path:
        with open(path, "w") as out:
            json.dump(totals, out)
