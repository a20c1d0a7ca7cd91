"""python -m bench.refresh --n 1000   (see bench/README.md, "Token refresh")
python -m bench.refresh --latency-ms 150 --concurrency 1,16,64,256

Migrates the database, starts the sandbox as its own process (``manage.py run_sandbox``) unless
--sandbox-url names a running one, and with --latency-ms a delaying proxy of its own in front of it (both the
worker and the bare loop call through it), runs the benchmark once per concurrency (a fresh worker each), stops
what it started, prints one JSON object last (a list of them for several concurrencies)."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
QUEUE = "bench-refresh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process, seconds: float = 30) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("the sandbox process exited")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"the sandbox did not answer at {url}")


WORKER_APPLICATION_NAME = "bench-refresh-worker"  # how the benchmark finds the worker's database connections


def worker_database_url() -> str:
    url = os.environ["DATABASE_URL"]
    return f"{url}{'&' if '?' in url else '?'}application_name={WORKER_APPLICATION_NAME}"


@contextmanager
def process_worker(concurrency: int = 1, database_pool: int = 0):
    """One worker process consuming only the benchmark's queue, refreshing one connection at a time (solo pool)
    or `concurrency` at once (thread pool, as for I/O-bound tasks), its threads sharing a pool of
    `database_pool` database connections (0: one persistent connection per thread); yields its query totals."""
    totals_file = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    env = {
        **os.environ,
        "BENCH_REFRESH_QUERY_FILE": totals_file,
        "DATABASE_URL": worker_database_url(),
        "DATABASE_POOL_MAX_SIZE": str(database_pool),
        "DATABASE_POOL_MIN_SIZE": str(database_pool),
    }
    if os.environ.get("BENCH_REFRESH_PROFILE"):  # each concurrency's worker writes a profile of its own
        env["BENCH_REFRESH_PROFILE"] = f"{os.environ['BENCH_REFRESH_PROFILE']}-{concurrency}"
    pool = "solo" if concurrency == 1 else "threads"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "broker_portal",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--queues",
            QUEUE,
            "--include",
            "bench.refresh.worker_probe",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    totals = {}
    try:
        time.sleep(3)  # let it connect to the broker before the first round
        if process.poll() is not None:
            raise RuntimeError("the worker process exited")
        yield lambda: totals
    finally:
        process.send_signal(signal.SIGTERM)  # warm shutdown: worker_shutdown writes the totals
        process.wait(60)
        if os.path.getsize(totals_file):
            with open(totals_file) as source:
                totals.update(json.load(source))
        os.unlink(totals_file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="due connections (and bare calls)")
    parser.add_argument("--sandbox-url", default="", help="a sandbox already running elsewhere")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--chunk", type=int, default=50, help="bare and portal calls alternate in chunks this big")
    parser.add_argument(
        "--concurrency",
        default="1",
        help="refreshes the worker runs at once (thread pool above 1), and bare loops likewise; "
        "several, comma-separated (1,16,64,256), run one after another",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="put a proxy in front of the sandbox that delays every call by this much",
    )
    parser.add_argument(
        "--database-pool",
        type=int,
        default=16,
        help="database connections the threads of a worker share (Django's pool; threads only)",
    )
    options = parser.parse_args()
    concurrencies = [int(value) for value in options.concurrency.split(",")]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "broker_portal.settings.test")
    # A worker keeps its database connection between tasks (as a deployed one would).
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
    os.environ.setdefault("CELERY_DB_REUSE_MAX", "100")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per task on the console
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from broker_portal.celery import app

    # Its own queue: the benchmark's worker takes no one else's tasks from a shared broker.
    app.conf.task_default_queue = QUEUE
    with app.connection_for_write() as broker:  # what an interrupted run left there is not this run's
        broker.default_channel.queue_purge(QUEUE)
    call_command("migrate", verbosity=0)

    process = None
    sandbox_url = options.sandbox_url
    if not sandbox_url:
        port = free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_sandbox", "--port", str(port)],
            cwd=ROOT,
            # A thread per request, sharing a pool of database connections: kept
            # ones would pile up in the sandbox, new ones cost a connection each call.
            env={**os.environ, "DATABASE_CONN_MAX_AGE": "0", "DATABASE_POOL_MAX_SIZE": "8"},
            stdout=subprocess.DEVNULL,
        )
    proxy = None
    try:
        wait_for(f"{sandbox_url}/sandbox/", process)
        if options.latency_ms:
            port = free_port()
            proxy = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.refresh.proxy",
                    "--listen-port",
                    str(port),
                    "--upstream",
                    sandbox_url,
                    "--latency-ms",
                    str(options.latency_ms),
                ],
                cwd=ROOT,
            )
            sandbox_url = f"http://127.0.0.1:{port}"
            wait_for(f"{sandbox_url}/sandbox/", proxy)
        from bench.refresh.core import run

        results = []
        for concurrency in concurrencies:
            database_pool = min(options.database_pool, concurrency) if concurrency > 1 else 0
            # Enough calls that every thread makes several, in chunks that keep them all busy.
            figures = run(
                sandbox_url=sandbox_url,
                n=max(options.n, 8 * concurrency),
                chunk=max(options.chunk, 2 * concurrency),
                timeout=options.timeout,
                worker=partial(process_worker, concurrency, database_pool),
                concurrency=concurrency,
                say=lambda line: print(line, flush=True),
                worker_application_name=WORKER_APPLICATION_NAME,
                sandbox_pid=process.pid if process is not None else None,
            )
            figures.update(latency_ms=options.latency_ms, database_pool=database_pool)
            results.append(figures)
            print(json.dumps(figures), flush=True)
    finally:
        for started in (proxy, process):
            if started is not None:
                started.terminate()
                started.wait(10)
    if len(results) > 1:
        print(summary_table(results))
        print(json.dumps(results))


def summary_table(results: list[dict]) -> str:
    lines = [
        "| concurrency | portal refreshes/s | bare refreshes/s | ratio | DB connections (peak open / busy) "
        "| one-hour connections kept fresh | worker CPU ms a refresh (bound) | sandbox CPU ms a call |",
        "| ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: |",
    ]
    for figures in results:
        lines.append(
            f"| {figures['concurrency']} | {figures['portal_connections_per_second']} | "
            f"{figures['bare_requests_per_second']} | {figures['ratio']} | "
            f"{figures.get('database_connections_open')} / {figures.get('database_connections_busy')} | "
            f"{figures['one_hour_connections_kept_fresh']:,} | "
            f"{figures.get('worker_cpu_ms_per_refresh')} ({figures.get('worker_cpu_bound_refreshes_per_second')}/s) | "
            f"{figures.get('sandbox_cpu_ms_per_call', {}).get('bare')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
