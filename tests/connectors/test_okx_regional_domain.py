"""OKX's callback names the site (``domain``) that the user's later calls must use: the token exchange, the Fast
API key, revocation and signed calls go there, and only to a genuine OKX site."""

from urllib.parse import urlencode, urlsplit

import pytest

from broker_portal.models import AuditEvent
from connectors.base.http import HostNotAllowed
from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.okx.provider import OKXOAuth2Adapter, OKXProvider
from connectors.okx.regions import regional_api_base_url
from connectors.token_refresh import Outcome, connection_refresh
from sandbox.models import Token as SandboxToken

from .helpers import csrf_token, query_of, register_credential

PRODUCTION = {"api_base_url": "https://www.okx.com", "authorize_base_url": "https://www.okx.com"}
# A test server reached under two names: the credential calls localhost, the callback may name 127.0.0.1.
SANDBOX = {
    "api_base_url": "http://localhost:8765/sandbox/okx/",
    "authorize_base_url": "http://127.0.0.1:8765/sandbox/okx",
}


@pytest.mark.parametrize(
    "settings_, domain, expected",
    [
        # Every OKX site of connectors/okx/regions.py (each with its source there).
        (PRODUCTION, "https://www.okx.com", "https://www.okx.com"),
        (PRODUCTION, "eea.okx.com", "https://eea.okx.com"),
        (PRODUCTION, "https://my.okx.com", "https://my.okx.com"),
        (PRODUCTION, "app.okx.com", "https://app.okx.com"),
        (PRODUCTION, "us.okx.com", "https://us.okx.com"),
        (PRODUCTION, "WWW.OKX.COM", "https://www.okx.com"),
        (PRODUCTION, "https://us.okx.com/", "https://us.okx.com"),
        (SANDBOX, "127.0.0.1:8765", "http://127.0.0.1:8765/sandbox/okx"),
        (SANDBOX, "localhost:8765", "http://localhost:8765/sandbox/okx"),
        (SANDBOX, "us.okx.com", "https://us.okx.com/sandbox/okx"),
    ],
)
def test_a_listed_domain_gives_the_credentials_api_path_on_that_host(settings_, domain, expected):
    assert regional_api_base_url(settings_, domain) == expected


@pytest.mark.parametrize(
    "settings_, domain",
    [
        (PRODUCTION, "evil.example"),
        (PRODUCTION, "www.okx.com.evil.example"),
        (PRODUCTION, "evil.okx.com"),  # not an OKX site, though under okx.com
        (PRODUCTION, "okx.com.evil.example"),
        (PRODUCTION, "www.okx.com@evil.example"),
        (PRODUCTION, "evil.example#www.okx.com"),
        (PRODUCTION, "http://us.okx.com"),  # real OKX hosts only over https
        (PRODUCTION, "us.okx.com:8443"),
        (PRODUCTION, "us.okx.com/v5/users/oauth/token"),
        (PRODUCTION, "us.okx.com?x=1"),
        (PRODUCTION, "localhost:8765"),  # a test host is listed only for a credential that points at one
        (PRODUCTION, ""),
        (SANDBOX, "127.0.0.1:9999"),
        (SANDBOX, "https://127.0.0.1:8765"),
    ],
)
def test_an_unlisted_domain_is_refused(settings_, domain):
    with pytest.raises(HostNotAllowed):
        regional_api_base_url(settings_, domain)


def test_the_token_and_revoke_urls_move_to_the_connections_domain(rf):
    provider = OKXProvider(rf.get("/"), app=type("App", (), {"settings": PRODUCTION})())
    adapter = OKXOAuth2Adapter(None, provider=provider)
    details = {"domain": "eea.okx.com"}
    assert adapter.connection_url(adapter.access_token_url, details) == "https://eea.okx.com/v5/users/oauth/token"
    assert adapter.connection_url(adapter.revoke_url, details) == "https://eea.okx.com/v5/users/oauth/revoke"
    assert adapter.connection_url(adapter.access_token_url, {}) == "https://www.okx.com/v5/users/oauth/token"
    with pytest.raises(HostNotAllowed):  # a stored domain is checked again on every use
        adapter.connection_url(adapter.access_token_url, {"domain": "evil.example"})


@pytest.fixture
def regional_okx(portal, settings):
    """The sandbox's OKX names 127.0.0.1 in its callback and answers the user's calls only there, while the
    credential's API base URL says localhost (the same live server under another name)."""
    regional = f"127.0.0.1:{urlsplit(portal['url']).port}"
    register_credential(portal["url"], portal["tenant"], "okx", authorize_base_url=f"http://{regional}/sandbox/okx")
    settings.SANDBOX_OKX_DOMAIN = regional
    return regional


@pytest.mark.django_db(transaction=True)
def test_every_call_after_the_callback_goes_to_its_domain_not_to_the_api_base_url(
    browser_session, portal, sandbox_accounts, regional_okx
):
    # Token exchange and Fast API key: the sandbox answers them only on the regional host.
    response = browser_session.connect("okx", sandbox_accounts["okx"]["trader"])
    assert response.status_code == 302 and response.headers["Location"] == "/", response.text[:1500]
    connection = ExchangeConnection.objects.get(exchange="okx")
    assert connection.status == "active" and connection.api_key
    assert connection.details["domain"] == regional_okx
    assert urlsplit(ExchangeCredential.objects.get(exchange="okx").api_base_url).netloc != regional_okx
    # Signed call (balances).
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "97,500.00 USDT" in dashboard, dashboard[:3000]
    # No refresh: the API key is the credential.
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.SKIPPED
    # Key deletion and revocation, with the access token while it lasts.
    response = browser_session.session.post(
        f"{portal['url']}/connect/okx/{connection.pk}/disconnect/",
        data={"csrfmiddlewaretoken": csrf_token(dashboard)},
        allow_redirects=False,
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="connection.disconnected")
    assert event.details["api_key_deleted"] is True and event.details["tokens_revoked"] is True, event.details
    assert not SandboxToken.objects.filter(client__exchange="okx", revoked_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("domain", ["evil.example", "www.okx.com.evil.example"])
def test_a_callback_naming_an_unlisted_domain_connects_nothing_and_sends_nothing(
    browser_session, portal, sandbox_accounts, domain
):
    account = sandbox_accounts["okx"]["trader"]
    callback = browser_session.consent(browser_session.start_connect("okx"), account["email"], account["password"])
    assert query_of(callback)["domain"] == urlsplit(portal["url"]).netloc
    forged = callback.split("?")[0] + "?" + urlencode({**query_of(callback), "domain": domain})
    response = browser_session.session.get(forged, allow_redirects=False)
    assert response.status_code == 400 and "may not call" in response.text and domain in response.text
    assert not ExchangeConnection.objects.exists()
    # The code was never exchanged: no token was issued anywhere.
    assert not SandboxToken.objects.filter(client__exchange="okx").exists()
