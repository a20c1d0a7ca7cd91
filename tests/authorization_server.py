"""The test authorization server (tests/oauth_server: django-oauth-toolkit in a Django project of its own) in
its own process for the session, with three clients registered for the live portal's generic provider: a
confidential client that authenticates with HTTP Basic, one that sends its secret in the body, and a public
client (PKCE, no secret). Import the fixture into a test module to use it."""

import html
import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
USER = {"username": "trader", "password": "Test-Server-Pass-1", "email": "trader@server.example"}
CLIENTS = {
    "basic": {"client_id": "portal-basic", "client_secret": "portal-basic-secret", "client_type": "confidential",
              "auth_method": "client_secret_basic"},
    "body": {"client_id": "portal-body", "client_secret": "portal-body-secret", "client_type": "confidential",
             "auth_method": "client_secret_post"},
    "public": {"client_id": "portal-public", "client_type": "public"},
}
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


# The tenant's servers in the several-servers tests: each has its own connect and callback URLs.
SERVER_SLUGS = ("alpha-id", "beta-id")


@dataclass(frozen=True)
class AuthorizationServer:
    issuer: str
    redirect_uri: str
    clients: dict
    user: dict

    def redirect_uri_of(self, server_slug: str) -> str:
        return self.redirect_uri.replace("/oauth2/callback/", f"/oauth2/{server_slug}/callback/")

    @property
    def origin(self) -> str:
        return self.issuer.rsplit("/o", 1)[0]

    def sign_in_and_consent(self, session: requests.Session, authorize_url: str, *, allow: bool = True) -> str:
        """Sign in at the server's login page and answer its consent form like a browser; returns the redirect
        back to the portal (at once where the server answers the request with an error)."""
        page = session.get(authorize_url, allow_redirects=False)
        if page.status_code == 302 and "/accounts/login/" in page.headers["Location"]:
            login_url = urljoin(authorize_url, page.headers["Location"])
            login = session.get(login_url)
            signed = session.post(login_url, allow_redirects=False, data={
                **hidden_inputs(login.text), "username": self.user["username"], "password": self.user["password"]})
            assert signed.status_code == 302, signed.text[:800]
            page = session.get(urljoin(login_url, signed.headers["Location"]), allow_redirects=False)
        if page.status_code == 302:
            return page.headers["Location"]
        assert page.status_code == 200 and "authorizationForm" in page.text, page.text[:800]
        form = hidden_inputs(page.text)
        if allow:
            form["allow"] = "Authorize"
        answer = session.post(page.url, data=form, allow_redirects=False)
        assert answer.status_code == 302, answer.text[:800]
        return answer.headers["Location"]


def hidden_inputs(page: str) -> dict:
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def authorization_server(live_server, tmp_path_factory):
    port = free_port()
    data_dir = tmp_path_factory.mktemp("authorization-server")
    redirect_uri = f"{live_server.url}/connect/oauth2/callback/"
    redirect_uris = [redirect_uri, *(redirect_uri.replace("/oauth2/", f"/oauth2/{slug}/") for slug in SERVER_SLUGS)]
    config = {"users": [USER], "clients": [{**client, "redirect_uris": redirect_uris} for client in CLIENTS.values()]}
    (data_dir / "config.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.oauth_server.serve", str(port), str(data_dir), str(data_dir / "config.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=(data_dir / "server.log").open("w"), text=True,
        env={key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
    )
    try:
        line = process.stdout.readline()
        assert line.strip() == "ready", (data_dir / "server.log").read_text()[-3000:]
        yield AuthorizationServer(issuer=f"http://127.0.0.1:{port}/o", redirect_uri=redirect_uri, clients=CLIENTS,
                                  user=USER)
    finally:
        process.terminate()
        process.wait(timeout=10)
