"""python -m bench.web   (see bench/README.md, "Web")

Recreates the database named by DATABASE_URL, starts the sandbox as its own process behind a delaying proxy,
seeds the demo tenant with a member without connections and one with four (bench/web/seed.py, through the
sandbox's consent pages), serves the portal with gunicorn under the production settings (bench/web/settings.py)
and measures, with a bounded loopback load generator, the trivial /healthz, the sign-in page, the dashboard (0 and
4 connections, the exchanges at 0 and 150 ms) and the API. Prints a table, then one JSON object last."""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet

from bench.refresh.__main__ import free_port

from .load import DelayingProxy, run_load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    name = parts.path.lstrip("/")
    subprocess.run(["dropdb", *args, "--if-exists", name], check=True)
    subprocess.run(["createdb", *args, name], check=True)


def started(stack: ExitStack, args: list[str], env: dict) -> subprocess.Popen:
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(lambda: (process.terminate(), process.wait(30)))
    return process


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    """Until ``url`` answers: its port accepts, then a first request (a worker's start-up) gets its answer."""
    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    while not port_open(parts.hostname, parts.port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"nothing answered at {url}")
        time.sleep(0.3)
    requests.get(url, timeout=max(deadline - time.monotonic(), 5))


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def sign_in(port: int, email: str, password: str) -> str:
    """The Cookie header of a signed-in session (the production cookies are Secure, so a client on http would
    not send them back by itself: the load generator sends this header)."""
    base = f"http://localhost:{port}"
    page = requests.get(f"{base}/accounts/login/")
    cookies = {cookie.name: cookie.value for cookie in page.cookies}
    response = requests.post(
        f"{base}/accounts/login/",
        allow_redirects=False,
        data={"csrfmiddlewaretoken": CSRF.search(page.text).group(1), "login": email, "password": password},
        headers={"Referer": f"{base}/", "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
    )
    assert response.status_code == 302, (response.status_code, response.text[:300])
    cookies.update({cookie.name: cookie.value for cookie in response.cookies})
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (GUNICORN_WORKERS)")
    parser.add_argument("--threads", type=int, default=4, help="threads per process (GUNICORN_THREADS)")
    parser.add_argument(
        "--fresh-seconds",
        type=int,
        default=5,
        help="BALANCES_FRESH_SECONDS: short, so snapshots expire (and are read again) during a run",
    )
    options = parser.parse_args()

    database_url = os.environ["DATABASE_URL"]
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
    recreate_database(database_url)
    tmp = tempfile.mkdtemp(prefix="bench-web-")
    sandbox_port, portal_port = free_port(), free_port()
    base_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "PORTAL_PORT": str(portal_port),
        "LOG_LEVEL": "WARNING",
    }
    with ExitStack() as stack:
        sandbox = started(
            stack,
            [
                sys.executable,
                "manage.py",
                "run_sandbox",
                "--migrate",
                "--host",
                "127.0.0.1",
                "--port",
                str(sandbox_port),
            ],
            {
                **base_env,
                "DJANGO_SETTINGS_MODULE": "sandbox.standalone_settings",
                "SANDBOX_DATABASE_URL": f"sqlite:///{tmp}/sandbox.sqlite3",
            },
        )
        wait_for(f"http://127.0.0.1:{sandbox_port}/sandbox/", sandbox, 60)
        proxy = DelayingProxy(sandbox_port)
        stack.callback(proxy.close)
        seeding = subprocess.run(
            [sys.executable, "-m", "bench.web.seed"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={
                **base_env,
                "DJANGO_SETTINGS_MODULE": "broker_portal.settings.development",
                "EXCHANGE_SANDBOX_URL": f"http://localhost:{proxy.port}/sandbox",
            },
        )
        if seeding.returncode:
            sys.exit(f"seeding failed:\n{seeding.stderr}")
        seeded = json.loads(seeding.stdout.strip().splitlines()[-1])

        web_env = {
            **base_env,
            "DJANGO_SETTINGS_MODULE": "bench.web.settings",
            "DJANGO_SECRET_KEY": "bench-" * 10,
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_ROOT": f"{tmp}/static",
            "GUNICORN_BIND": f"127.0.0.1:{portal_port}",
            "GUNICORN_WORKERS": str(options.workers),
            "GUNICORN_THREADS": str(options.threads),
            "BALANCES_FRESH_SECONDS": str(options.fresh_seconds),
            # The API's per-user limit (120 a minute) would answer most of the load with 429: measured here is
            # the list, not the throttle.
            "API_RATE_PER_USER": "1000000/min",
            "API_RATE_PER_TENANT": "1000000/min",
        }
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=web_env, check=True
        )
        web = started(
            stack,
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "broker_portal.wsgi:application"],
            web_env,
        )
        wait_for(f"http://127.0.0.1:{portal_port}/healthz", web, 60)

        host = {"Host": f"localhost:{portal_port}"}
        empty = {**host, "Cookie": sign_in(portal_port, seeded["empty"], seeded["password"])}
        four = {**host, "Cookie": sign_in(portal_port, seeded["four"], seeded["password"])}
        api = {**host, "Authorization": f"Bearer {seeded['api_token']}"}
        import redis

        cache = redis.Redis.from_url(redis_url)
        scenarios = [
            ("floor: /healthz", "/healthz", host, 0),
            ("sign-in page", "/accounts/login/", host, 0),
            ("dashboard, 0 connections", "/", empty, 0),
            ("dashboard, 4 connections, 0 ms", "/", four, 0),
            ("dashboard, 4 connections, 150 ms", "/", four, 0.150),
            ("API: connections", "/api/v1/connections/", api, 0),
            ("API: connections, 150 ms", "/api/v1/connections/", api, 0.150),
        ]
        results = {}
        for name, path, headers, latency in scenarios:
            proxy.latency, calls = latency, proxy.calls
            cache.flushdb()  # a cold cache: every balance snapshot is read anew, under the load
            check = requests.get(f"http://127.0.0.1:{portal_port}{path}", headers=headers, allow_redirects=False)
            assert check.status_code == 200, (name, check.status_code)
            result = run_load(
                port=portal_port, path=path, headers=headers, clients=options.clients, seconds=options.seconds
            )
            results[name] = {**result, "exchange_calls": proxy.calls - calls}
            time.sleep(1)
    print(f"{'what':<36} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'exch. calls':>11}")
    for name, row in results.items():
        print(
            f"{name:<36} {row.get('rps', 0):>8} {row.get('p50_ms', '-'):>8} {row.get('p95_ms', '-'):>8} "
            f"{row.get('p99_ms', '-'):>8} {row['errors']:>7} {row['exchange_calls']:>11}"
        )
    print(
        json.dumps(
            {
                "clients": options.clients,
                "seconds": options.seconds,
                "workers": options.workers,
                "threads": options.threads,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
