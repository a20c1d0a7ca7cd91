"""Walking the live portal as a browser and a broker would: CSRF tokens, query strings, a client registered at the
sandbox, a signed-in session, connecting and disconnecting, and a token pair still alive at the sandbox."""

import re
import urllib.parse

import requests

from connectors.exchanges import exchange_packages
from connectors.models import ExchangeConnection, ExchangeCredential
from sandbox.models import Token as SandboxToken
from sandbox.services import client_register

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PASSWORD = "portal-user-passphrase"


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:800]
    return match.group(1)


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def register_credential(
    base_url,
    tenant,
    exchange_id,
    *,
    client_type="confidential",
    api_broker=True,
    ip_allowlist=("127.0.0.1",),
    **overrides,
):
    package = exchange_packages()[exchange_id]
    exchange = package.exchange
    client_id, secret = f"{tenant.slug}-{exchange_id}", f"{tenant.slug}-{exchange_id}-secret"
    redirect_uri = f"{base_url}/connect/{exchange_id}/callback/"
    sandbox_scopes = [*exchange.permission_codes, *package.provider_class.fixed_scopes]
    issued = client_register(
        exchange=exchange_id,
        client_id=client_id,
        client_secret=secret,
        client_type=client_type,
        redirect_uris=[redirect_uri],
        permissions=sandbox_scopes,
        api_broker=api_broker,
        ip_allowlist=ip_allowlist,
    )
    # KuCoin's OAuth calls go to its www host, its REST API to the api host; the broker name is its own value.
    authorize_base_url, api_base_url = package.demo.base_urls(f"{base_url}/sandbox", exchange_id)
    attribution = {"partner": client_id, "broker_name": issued.get("broker_name", "")}
    credential, _ = ExchangeCredential.objects.update_or_create(
        tenant=tenant,
        exchange=exchange_id,
        defaults={
            "client_id": client_id,
            "client_secret": "" if client_type == "public" else secret,
            "client_type": client_type,
            "redirect_uris": [redirect_uri],
            "allowed_permissions": list(exchange.permission_codes),
            "default_permissions": list(exchange.default_permissions),
            "authorize_base_url": authorize_base_url,
            "api_base_url": api_base_url,
            "broker_key": secret,
            "settings": {
                **(attribution if package.demo.broker_attribution else {}),
                **dict(package.demo.attribution_settings),
            },
            **overrides,
        },
    )
    return credential


class PortalBrowser:
    """A requests.Session that signs in at the portal and walks a connect flow like a browser would."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.chosen: list[str] | None = None  # the permissions of the last permission form posted

    def sign_in(self, email: str, password: str = PASSWORD):
        page = self.session.get(f"{self.base_url}/accounts/login/")
        response = self.session.post(
            f"{self.base_url}/accounts/login/",
            allow_redirects=False,
            data={
                "csrfmiddlewaretoken": csrf_token(page.text),
                "login": email,
                "password": password,
            },
        )
        assert response.status_code == 302, response.text[:800]

    def start_connect(self, exchange_id: str, permissions: list[str] | None = None) -> str:
        """Submit the permission form; returns the exchange's authorize URL the portal redirects to."""
        page = self.session.get(f"{self.base_url}/connect/{exchange_id}/")
        assert page.status_code == 200, page.text[:800]
        chosen = (
            permissions
            if permissions is not None
            else re.findall(r'name="permissions" value="([^"]+)"\s+checked', page.text)
        )
        response = self.session.post(
            f"{self.base_url}/connect/{exchange_id}/",
            allow_redirects=False,
            data={
                "csrfmiddlewaretoken": csrf_token(page.text),
                "permissions": chosen,
            },
        )
        self.chosen = chosen
        assert response.status_code == 302, response.text[:800]
        return response.headers["Location"]

    def consent(
        self, authorize_url: str, email: str, password: str, action: str = "approve", scopes: list[str] | None = None
    ) -> str:
        """Sign in at the sandbox and approve or deny; returns the redirect back to the portal."""
        page = self.session.get(authorize_url)
        assert page.status_code == 200, page.text[:800]
        signed = self.session.post(
            authorize_url,
            allow_redirects=False,
            data={
                "csrfmiddlewaretoken": csrf_token(page.text),
                "action": "sign_in",
                "email": email,
                "password": password,
            },
        )
        assert signed.status_code == 302, signed.text[:800]
        page = self.session.get(authorize_url)
        if scopes is None and "/sandbox/kucoin" in authorize_url and self.chosen is not None:
            scopes = self.chosen  # KuCoin's page ticks its own defaults: the user ticks there what they chose here
        ticked = scopes if scopes is not None else re.findall(r'name="scope" value="([^"]+)"[^>]*checked', page.text)
        answer = self.session.post(
            authorize_url,
            allow_redirects=False,
            data={
                "csrfmiddlewaretoken": csrf_token(page.text),
                "action": action,
                "scope": ticked,
            },
        )
        assert answer.status_code == 302, answer.text[:800]
        return answer.headers["Location"]

    def connect(self, exchange_id: str, account: dict, permissions=None) -> requests.Response:
        callback = self.consent(self.start_connect(exchange_id, permissions), account["email"], account["password"])
        return self.session.get(callback, allow_redirects=False)


def connected(browser_session, sandbox_accounts, exchange_id, permissions=None) -> ExchangeConnection:
    """Connected with ``permissions`` chosen here and approved at the sandbox (KuCoin refuses a difference)."""
    account = sandbox_accounts[exchange_id]["trader"]
    callback = browser_session.consent(
        browser_session.start_connect(exchange_id, permissions),
        account["email"],
        account["password"],
        scopes=permissions,
    )
    response = browser_session.session.get(callback, allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    return ExchangeConnection.objects.get(exchange=exchange_id)


def connect_okx(browser_session, sandbox_accounts, permissions=None):
    return browser_session.connect("okx", sandbox_accounts["okx"]["trader"], permissions)


def disconnect(browser_session, portal, connection):
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    return browser_session.session.post(
        f"{portal['url']}/connect/okx/{connection.pk}/disconnect/", data={"csrfmiddlewaretoken": csrf_token(dashboard)}
    )


def assert_alive_at_the_sandbox(connection):
    """The stored pair is the newest of its family at the sandbox, unspent and unrevoked."""
    token = SandboxToken.objects.get(refresh_token=connection.refresh_token)
    assert token.revoked_at is None and token.refresh_used_at is None and token.superseded_at is None
    assert not SandboxToken.objects.filter(family=token.family, revoked_at__isnull=False).exists()
