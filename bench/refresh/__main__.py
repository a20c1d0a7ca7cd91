"""python -m bench.refresh --n 1000   (see bench/README.md, "Token refresh")

Migrates the database, starts the sandbox as its own process (``manage.py run_sandbox``) unless
--sandbox-url names a running one, runs the benchmark, stops the sandbox, prints one JSON object last."""

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


@contextmanager
def process_worker(concurrency: int = 1):
    """One worker process consuming only the benchmark's queue, refreshing one connection at a time (solo pool)
    or `concurrency` at once (thread pool, as for I/O-bound tasks); yields its query totals."""
    totals_file = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    env = {**os.environ, "BENCH_REFRESH_QUERY_FILE": totals_file}
    pool = "solo" if concurrency == 1 else "threads"
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "broker_portal", "worker", "--pool", pool,
                                "--concurrency", str(concurrency), "--queues", QUEUE,
                                "--include", "bench.refresh.worker_probe",
                                "--without-heartbeat", "--without-mingle", "--without-gossip",
                                "--loglevel", "WARNING"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
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
    parser.add_argument("--concurrency", type=int, default=1,
                        help="refreshes the worker runs at once (thread pool above 1), and bare loops likewise")
    options = parser.parse_args()

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
    call_command("migrate", verbosity=0)

    process = None
    sandbox_url = options.sandbox_url
    if not sandbox_url:
        port = free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen([sys.executable, "manage.py", "run_sandbox", "--port", str(port)], cwd=ROOT,
                                   # A thread per request: kept connections would pile up in the sandbox.
                                   env={**os.environ, "DATABASE_CONN_MAX_AGE": "0"}, stdout=subprocess.DEVNULL)
    try:
        wait_for(f"{sandbox_url}/sandbox/", process)
        from bench.refresh.core import run

        figures = run(sandbox_url=sandbox_url, n=options.n, chunk=options.chunk, timeout=options.timeout,
                      worker=partial(process_worker, options.concurrency), concurrency=options.concurrency,
                      say=lambda line: print(line, flush=True))
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
