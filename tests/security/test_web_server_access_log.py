"""The web server the portal ships with (gunicorn, gunicorn.conf.py) started for real with the production settings:
it serves pages and static files, reloads on HUP, and its logs never hold the OAuth callback's code or state."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings
from django.db import connection

from broker_portal import services
from tests.connectors.helpers import register_credential
from tests.test_settings import PRODUCTION_ENV, manage, process_env

pytestmark = pytest.mark.django_db(transaction=True)
HOST = "portal.example.com"  # PRODUCTION_ENV's ALLOWED_HOSTS
CODE, STATE = "SECRETc0de-4f9a1b", "STATEv4lue-77e0c2"


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """What an image's build collects, with the production storage (hashed names and a manifest)."""
    root = tmp_path_factory.mktemp("static")
    result = manage("collectstatic", "--noinput", "-v0", env={**PRODUCTION_ENV, "STATIC_ROOT": str(root)})
    assert result.returncode == 0, result.stderr
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_of_this_test() -> str:
    database = connection.settings_dict
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


class Server:
    """A web server started as a process, on a free port, its stdout and stderr kept in files."""

    def __init__(self, tmp_path, command: list[str], env: dict):
        self.port = free_port()
        self.command = [part.format(port=self.port) for part in command]
        self.out, self.err = tmp_path / "stdout.log", tmp_path / "stderr.log"
        self.env = env

    def __enter__(self):
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen(self.command, cwd=settings.BASE_DIR, env=self.env, stdout=out, stderr=err)
        self.wait_until(self.answers)
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_until(self, condition, seconds=30):
        deadline = time.monotonic() + seconds
        while not condition():
            assert self.process.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, self.err.read_text()
            time.sleep(0.1)

    def answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True
        return False

    def get(self, path: str, **headers) -> requests.Response:
        return requests.get(
            f"http://127.0.0.1:{self.port}{path}",
            allow_redirects=False,
            timeout=30,
            headers={"Host": HOST, "X-Forwarded-Proto": "https", **headers},
        )


def gunicorn(tmp_path, **env) -> Server:
    """`gunicorn broker_portal.wsgi:application` from the repository root, as the container runs it, with the
    production settings (gunicorn.conf.py chooses them) on this test's database."""
    server_env = process_env(
        {
            **PRODUCTION_ENV,
            **env,
            "DATABASE_URL": database_url_of_this_test(),
            "REDIS_URL": settings.CELERY_BROKER_URL,
            "FERNET_KEYS": ",".join(settings.FERNET_KEYS),  # it reads the credential this process wrote
            "TLS_PROXY_SETS_FORWARDED_PROTO": "true",  # requests come as from the TLS proxy (X-Forwarded-Proto)
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "2",
        }
    )
    server_env.pop("DJANGO_SETTINGS_MODULE")  # gunicorn.conf.py chooses production itself
    server = Server(tmp_path, [sys.executable, "-m", "gunicorn", "broker_portal.wsgi:application"], server_env)
    server.env["GUNICORN_BIND"] = f"127.0.0.1:{server.port}"  # what the container sets to its own address
    return server


@pytest.fixture
def served_tenant(transactional_db):
    tenant = services.tenant_create(name="Served Broker", slug="served", hosts=[HOST])
    register_credential(f"https://{HOST}", tenant, "kucoin")
    return tenant


def the_callback_and_pages_that_carry_its_code(server: Server):
    """The exchange's redirect back (its query holds the code and state), a page whose ?next= holds them
    URL-encoded, and a request whose Referer is the callback."""
    # Not signed in: the callback answers a page (a redirect to sign in would carry the code along).
    callback = server.get(f"/connect/kucoin/callback/?code={CODE}&state={STATE}", **{"X-Request-ID": "rid-callback-1"})
    assert callback.status_code == 400 and "Your session has ended" in callback.text, server.err.read_text()
    assert callback.headers["X-Request-ID"] == "rid-callback-1"
    assert "no-store" in callback.headers["Cache-Control"]
    to_sign_in = server.get(f"/?code={CODE}&state={STATE}")
    assert to_sign_in.status_code == 302 and CODE in requests.utils.unquote(to_sign_in.headers["Location"])
    assert server.get(to_sign_in.headers["Location"]).status_code == 200
    login = server.get("/accounts/login/", Referer=f"https://{HOST}/connect/kucoin/callback/?code={CODE}")
    assert login.status_code == 200
    return login


def test_gunicorn_serves_the_production_settings_and_logs_json_lines_without_the_code(
    tmp_path, served_tenant, static_root
):
    with gunicorn(tmp_path, STATIC_ROOT=str(static_root)) as server:
        login = the_callback_and_pages_that_carry_its_code(server)
        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', login.text)[1]
        assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet)  # the manifest's hashed name: collected files served
        assert server.get(stylesheet).status_code == 200
    written = server.out.read_text() + server.err.read_text()
    assert CODE not in written and STATE not in written
    lines = [json.loads(line) for line in server.out.read_text().splitlines()]  # every line is a JSON object
    errors = [json.loads(line) for line in server.err.read_text().splitlines() if line.startswith("{")]
    assert any(line["message"] == f"Booting worker with pid: {line['process']}" for line in errors)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    callback = next(line for line in access if line["http"]["path"] == "/connect/kucoin/callback/")
    assert callback["http"]["status"] == 400 and callback["http"]["method"] == "GET"
    assert callback["request_id"] == "rid-callback-1"
    assert {"/", "/accounts/login/", stylesheet} <= {line["http"]["path"] for line in access}
    assert all(line["http"]["referer"] in ("-", f"https://{HOST}/connect/kucoin/callback/") for line in access)


def test_the_plain_access_log_leaves_the_query_out_too(tmp_path, served_tenant, static_root):
    with gunicorn(tmp_path, STATIC_ROOT=str(static_root), LOG_FORMAT="plain") as server:
        the_callback_and_pages_that_carry_its_code(server)
    written = server.out.read_text() + server.err.read_text()
    assert CODE not in written and STATE not in written
    assert re.search(
        r'"GET /connect/kucoin/callback/ HTTP/1.1" 400 \d+ "-" "[^"]*" \d+ms rid-callback-1', server.out.read_text()
    ), server.out.read_text()


def test_hup_reloads_the_workers_and_the_server_keeps_answering(tmp_path, served_tenant, static_root):
    with gunicorn(tmp_path, STATIC_ROOT=str(static_root)) as server:
        assert server.get("/accounts/login/").status_code == 200
        os.kill(server.process.pid, signal.SIGHUP)
        server.wait_until(lambda: server.err.read_text().count("Booting worker") >= 2)
        server.wait_until(lambda: "Worker exiting" in server.err.read_text())
        assert server.get("/accounts/login/").status_code == 200
    assert "Handling signal: hup" in server.err.read_text()


def test_the_development_server_logs_request_lines_without_the_query(tmp_path, served_tenant):
    """runserver's request lines (django.server) go through the same redaction as every other line."""
    env = process_env(
        {
            "DJANGO_SETTINGS_MODULE": "broker_portal.settings.test",
            "DATABASE_URL": database_url_of_this_test(),
            "ALLOWED_HOSTS": HOST,
        }
    )
    command = [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", "127.0.0.1:{port}"]
    with Server(tmp_path, command, env) as server:
        assert server.get(f"/connect/kucoin/callback/?code={CODE}&state={STATE}").status_code == 400
        server.wait_until(lambda: "/connect/kucoin/callback/" in server.err.read_text())
    written = server.out.read_text() + server.err.read_text()
    assert CODE not in written and STATE not in written
    assert '"GET /connect/kucoin/callback/ HTTP/1.1" 400' in written
