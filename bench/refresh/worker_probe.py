"""Loaded into the benchmark's worker process (celery --include): counts the queries of refresh tasks the way
Django's assertNumQueries does (BEGIN and COMMIT included) and writes the totals at shutdown. Counting turns
on Django's debug cursor, so only every SAMPLE-th task is counted, to keep that cost out of the timing.

It also sums each task's duration and, within it, the token call's (in wall time and in the thread's CPU time),
so the benchmark can say where the portal's time goes: the exchange call, the rest of the task (database,
Python), and Celery around the task; and the process's CPU time from the first refresh's start to the last one's
end, which bounds what one process can do whatever the exchange's speed (its threads share one interpreter lock).

With BENCH_REFRESH_PROFILE set to a path, it also profiles the process with cProfile until its shutdown: the
consumer's thread (receiving and acknowledging; with the solo pool, the tasks too) from the worker's start, each
pool thread from its first refresh, in CPU time (a wait counts nothing), and writes their merged stats there
(``python -m pstats PATH``)."""

import cProfile
import json
import os
import pstats
import threading
import time

from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown
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
    "task_cpu_seconds": 0.0,  # the CPU time of the threads running refreshes, within the tasks
    "token_call_cpu_seconds": 0.0,
    "timed_tasks": 0,
    "cpu_first": None,
    "cpu_last": None,
    "refreshes": 0,
}
_open = threading.local()  # a thread pool runs several tasks at once
_lock = threading.Lock()
_seen = {"tasks": 0}
PROFILE_PATH = os.environ.get("BENCH_REFRESH_PROFILE", "")
_profilers: list[cProfile.Profile] = []  # one per thread: cProfile follows only the thread that enabled it


def profile_this_thread() -> None:
    if getattr(_open, "profiler", None) is None:
        # Timed by the thread's CPU clock: waiting for the exchange, the database or the broker counts nothing.
        _open.profiler = cProfile.Profile(time.thread_time)
        with _lock:
            _profilers.append(_open.profiler)
        _open.profiler.enable()


@worker_ready.connect
def start_profiling_consumer(**kwargs):
    # The consumer's thread receives and acknowledges the messages (and with the solo pool runs the tasks too).
    # Enabled at once, as only that thread can; its idle waiting before the first refresh costs next to nothing.
    if PROFILE_PATH:
        profile_this_thread()


@task_prerun.connect
def before(task=None, **kwargs):
    if task is not None and task.name == REFRESH_TASK:
        if PROFILE_PATH:
            profile_this_thread()
        _open.started, _open.cpu_started = time.perf_counter(), time.thread_time()
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
    cpu_spent = time.thread_time() - getattr(_open, "cpu_started", 0.0)
    context, _open.context = getattr(_open, "context", None), None
    if context is not None:
        context.__exit__(None, None, None)
    with _lock:
        if started is not None:
            totals["task_seconds"] += time.perf_counter() - started
            totals["task_cpu_seconds"] += cpu_spent
            totals["timed_tasks"] += 1
            totals["refreshes"] += 1
            totals["cpu_last"] = time.process_time()
        if context is not None:
            totals["queries"] += len(context)
            totals["tasks"] += 1


def timed_token_call(call):
    def timed(*args, **kwargs):
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            return call(*args, **kwargs)
        finally:
            with _lock:
                totals["token_call_seconds"] += time.perf_counter() - started
                totals["token_call_cpu_seconds"] += time.thread_time() - cpu_started

    return timed


connectors.token_refresh.post_token_request = timed_token_call(connectors.token_refresh.post_token_request)


@worker_shutdown.connect
def write_totals(**kwargs):
    path = os.environ.get("BENCH_REFRESH_QUERY_FILE")
    if path:
        with open(path, "w") as out:
            json.dump(totals, out)
    if PROFILE_PATH and _profilers:
        # By now a warm shutdown has joined the pool's threads: their profiles no longer change.
        pstats.Stats(*_profilers).dump_stats(PROFILE_PATH)
