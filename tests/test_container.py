"""The image's entry point and health checks, run here as the container runs them (no container runtime on these
machines): each role with the production settings against the real PostgreSQL and Redis, a fresh database per run."""

import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dj_database_url
import psycopg
import pytest
import requests
from django.conf import settings
from django.core.cache.backends.redis import RedisCache

from broker_portal.tasks import HEARTBEAT_CACHE_KEY
from tests.test_settings import PRODUCTION_ENV

PROJECT = Path(settings.BASE_DIR)
ENTRYPOINT = PROJECT / "bin" / "container-entrypoint"
HEALTHCHECK = PROJECT / "bin" / "container-healthcheck"
PORTAL_HOST = "portal.example.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def outside_environment() -> dict[str, str]:
    """What a container starts with: the machine's basics, none of the suite's own settings."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    return {name: value for name, value in os.environ.items() if name in keep}


@pytest.fixture(scope="module")
def production_database():
    """A database of its own, so the migrate role starts from nothing, as on a first deployment."""
    server = dj_database_url.parse(os.environ["DATABASE_URL"])
    name = f"test_{server['NAME']}_container"
    maintenance = psycopg.connect(
        host=server["HOST"],
        port=server["PORT"] or 5432,
        user=server["USER"],
        password=server["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    maintenance.execute(f'CREATE DATABASE "{name}"')
    password = f":{server['PASSWORD']}" if server["PASSWORD"] else ""
    yield f"postgres://{server['USER']}{password}@{server['HOST']}:{server['PORT'] or 5432}/{name}"
    maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    maintenance.close()


@pytest.fixture(scope="module")
def container_env(production_database, tmp_path_factory):
    """The environment compose.yaml gives the portal's services (the image's ENV included)."""
    # No DJANGO_SETTINGS_MODULE: the entry point (and the image's ENV) choose the production settings.
    production = {name: value for name, value in PRODUCTION_ENV.items() if name != "DJANGO_SETTINGS_MODULE"}
    return {
        **outside_environment(),
        **production,
        "DATABASE_URL": production_database,
        "REDIS_URL": os.environ["CELERY_BROKER_URL"],
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "ALLOWED_HOSTS": PORTAL_HOST,
        "PORTAL_VAR_DIR": str(tmp_path_factory.mktemp("portal-var")),
        "XDG_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime")),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PATH": python_first_on_path(),
    }


def python_first_on_path() -> str:
    # In the image python, gunicorn and celery are on PATH; here they are beside the suite's own interpreter.
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


def run_role(*arguments: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ENTRYPOINT), *arguments], cwd="/", env=env, capture_output=True, text=True, timeout=timeout
    )


def start_role(*arguments: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as output:
        return subprocess.Popen(
            [str(ENTRYPOINT), *arguments],
            cwd="/",
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, timeout: int = 30) -> int:
    """SIGTERM, as `docker stop` sends: the role shuts down gracefully, or its process group is killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def healthcheck(*arguments: str, env: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *arguments], cwd="/", env=env, capture_output=True, timeout=60
    ).returncode


@pytest.fixture(scope="module")
def migrated(container_env):
    result = run_role("migrate", env=container_env)
    assert result.returncode == 0, result.stdout + result.stderr
    return container_env


@pytest.fixture(scope="module")
def collected_static():
    """The image's build step: collectstatic with the build settings and no secret in the environment."""
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=PROJECT,
        env={**outside_environment(), "DJANGO_SETTINGS_MODULE": "broker_portal.settings.build"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return PROJECT / "staticfiles"


def test_the_migrate_role_migrates_a_fresh_database_and_exits(migrated):
    with psycopg.connect(migrated["DATABASE_URL"]) as database:
        applied = {app for (app,) in database.execute("SELECT DISTINCT app FROM django_migrations")}
    assert {"broker_portal", "connectors", "withdrawals", "exports", "api", "socialaccount", "mfa"} <= applied
    assert "sandbox" not in applied  # production leaves the exchange simulator out
    # Nothing left to apply: a second run (every `compose up`) is a no-op, and --check agrees.
    assert run_role("migrate", env=migrated).returncode == 0
    check = run_role("manage", "migrate", "--check", env=migrated)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_build_collects_static_files_without_any_secret(collected_static):
    assert (collected_static / "staticfiles.json").is_file()
    assert (collected_static / "css").is_dir()


def test_the_build_settings_collect_what_production_serves(container_env):
    show = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.INSTALLED_APPS, s.STATIC_ROOT.as_posix(), [p.as_posix() for p in s.STATICFILES_DIRS], "
        "s.STATIC_URL, s.STORAGES['staticfiles']]))"
    )
    production = run_role("manage", "shell", "-c", show, env=container_env)
    build = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", show],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**outside_environment(), "DJANGO_SETTINGS_MODULE": "broker_portal.settings.build"},
    )
    assert production.returncode == 0 and build.returncode == 0, production.stderr + build.stderr
    assert json.loads(build.stdout.splitlines()[-1]) == json.loads(production.stdout.splitlines()[-1])


def test_the_web_role_serves_the_portal_with_production_settings(migrated, collected_static, tmp_path):
    create_tenant = (
        "from broker_portal import services; "
        f"services.tenant_create(name='Container Broker', slug='container', hosts=['{PORTAL_HOST}'])"
    )
    result = run_role("manage", "shell", "-c", create_tenant, env=migrated)
    assert result.returncode == 0, result.stderr
    port = free_port()
    # GUNICORN_CMD_ARGS is gunicorn's own; it overrides gunicorn.conf.py's bind for this test only.
    env = {
        **migrated,
        "TLS_PROXY_SETS_FORWARDED_PROTO": "true",
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 2",
    }
    web = start_role("web", env=env, log=tmp_path / "web.log")
    try:
        behind_the_proxy = {"Host": PORTAL_HOST, "X-Forwarded-Proto": "https"}
        sign_in = wait_for(f"http://127.0.0.1:{port}/accounts/login/", headers=behind_the_proxy, process=web)
        assert sign_in.status_code == 200, sign_in.text[:500]
        assert "Container Broker" in sign_in.text
        assert sign_in.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        # Static files: hashed names from the build's manifest, served by whitenoise from the image.
        stylesheet = next(
            line.split('href="')[1].split('"')[0]
            for line in sign_in.text.splitlines()
            if 'rel="stylesheet"' in line and "/static/" in line
        )
        assert len(Path(stylesheet).suffixes) >= 2  # name.<hash>.css
        static = requests.get(f"http://127.0.0.1:{port}{stylesheet}", headers=behind_the_proxy, timeout=10)
        assert static.status_code == 200 and "immutable" in static.headers["Cache-Control"]
        # Plain HTTP is sent to HTTPS, and a host that is not the portal's is refused.
        plain = requests.get(
            f"http://127.0.0.1:{port}/accounts/login/", headers={"Host": PORTAL_HOST}, allow_redirects=False, timeout=10
        )
        assert plain.status_code == 301 and plain.headers["Location"].startswith(f"https://{PORTAL_HOST}/")
        stranger = requests.get(
            f"http://127.0.0.1:{port}/accounts/login/",
            headers={"Host": "elsewhere.example", "X-Forwarded-Proto": "https"},
            timeout=10,
        )
        assert stranger.status_code == 400
        # The image's health check: /healthz over plain HTTP with Host 127.0.0.1, neither redirected nor refused.
        assert healthcheck("web", "/healthz", env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}) == 0
    finally:
        returncode = stop(web)
    log = read(tmp_path, "web")
    assert returncode == 0, log[-3000:]  # a graceful stop on SIGTERM
    assert "Failed to start control socket" not in log  # its runtime directory is writable, as in the image


def wait_for(url: str, *, headers: dict[str, str], process: subprocess.Popen) -> requests.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(url, headers=headers, timeout=10)
        except requests.exceptions.ConnectionError:
            assert process.poll() is None, "the role exited before it answered"
            assert time.monotonic() < deadline, "the role did not answer within 60 s"
            time.sleep(0.2)


def test_the_worker_and_beat_roles_run_the_periodic_tasks(migrated, tmp_path):
    heartbeats = RedisCache(migrated["REDIS_URL"], {})
    heartbeats.delete(HEARTBEAT_CACHE_KEY)
    schedule = Path(migrated["PORTAL_VAR_DIR"]) / "celerybeat-schedule"
    worker = start_role("worker", "--concurrency", "1", env=migrated, log=tmp_path / "worker.log")
    beat = start_role("beat", env=migrated, log=tmp_path / "beat.log")
    try:
        # Beat keeps its schedule in PORTAL_VAR_DIR, the image's one writable place.
        assert until(lambda: any(Path(schedule.parent).glob(schedule.name + "*")), seconds=60), read(tmp_path, "beat")
        assert healthcheck("beat", env=migrated) == 0
        assert until(lambda: healthcheck("worker", env=migrated) == 0, seconds=60), read(tmp_path, "worker")
        # A task a web process enqueues reaches the worker through Redis.
        enqueue = "from broker_portal.tasks import record_worker_heartbeat; record_worker_heartbeat.delay()"
        assert run_role("manage", "shell", "-c", enqueue, env=migrated).returncode == 0
        assert until(lambda: heartbeats.get(HEARTBEAT_CACHE_KEY), seconds=30), read(tmp_path, "worker")
        # And beat's own schedule does too: withdrawal polling is due every 15 s.
        polled = re.compile(r"withdrawals\.tasks\.withdrawal_poll_open\[[0-9a-f-]+\] succeeded")
        assert until(lambda: polled.search(read(tmp_path, "worker")), seconds=60), read(tmp_path, "worker") + read(
            tmp_path, "beat"
        )
    finally:
        beat_exit, worker_exit = stop(beat), stop(worker, timeout=60)
    assert (beat_exit, worker_exit) == (0, 0), read(tmp_path, "worker") + read(tmp_path, "beat")
    # A beat that stopped writing its schedule is reported unhealthy.
    for written in Path(schedule.parent).glob(schedule.name + "*"):
        os.utime(written, (time.time() - 3600, time.time() - 3600))
    assert healthcheck("beat", env=migrated) == 1
    assert healthcheck("worker", env=migrated) == 1  # no worker answers the ping any more


def until(condition, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return bool(condition())


def read(tmp_path: Path, role: str) -> str:
    return (tmp_path / f"{role}.log").read_text()


def test_an_unknown_role_is_refused():
    result = run_role("shell", env=outside_environment())
    assert result.returncode == 64 and "usage:" in result.stderr


class Answer(http.server.BaseHTTPRequestHandler):
    """A server standing where gunicorn listens, answering each path with the status it names."""

    def do_GET(self):
        self.send_response(int(self.path.strip("/")))
        self.send_header("Location", "https://portal.example.com/")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_web_health_check_is_healthy_only_on_200():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**outside_environment(), "GUNICORN_BIND": f"0.0.0.0:{server.server_address[1]}"}
    try:
        assert healthcheck("web", "/200", env=env) == 0
        assert healthcheck("web", "/503", env=env) == 1
        assert healthcheck("web", "/301", env=env) == 1  # a redirect is not followed
    finally:
        server.shutdown()
        server.server_close()
    assert healthcheck("web", "/200", env=env) == 1  # nothing listening
