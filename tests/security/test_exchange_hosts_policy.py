"""In production, server-side calls go only to each exchange's known hosts (or one the operator allows); the
generic OAuth 2.0 provider refuses private, loopback and link-local addresses. Checked in the credential form
and again at call time."""

import pytest

from broker_portal.admin import ExchangeCredentialForm
from broker_portal.models import ExchangeCredential
from connectors.base.http import HostNotAllowed, exchange_session

pytestmark = pytest.mark.django_db

METADATA = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture
def production_policy(settings):
    settings.EXCHANGE_HOSTS_ENFORCED = True
    settings.EXCHANGE_ALLOWED_EXTRA_HOSTS = []
    return settings


def form_errors(tenant, exchange, authorize_base_url, api_base_url) -> dict:
    data = {"tenant": tenant.pk, "exchange": exchange, "is_enabled": "on", "client_id": f"{exchange}-client",
            "client_type": "confidential", "redirect_uris": "https://alpha.localhost/accounts/callback/",
            "authorize_base_url": authorize_base_url, "api_base_url": api_base_url, "settings": "{}",
            "kucoin_partner": "partner", "kucoin_broker_name": "broker", "kucoin_key_creation": "v2"}
    form = ExchangeCredentialForm(data=data, instance=ExchangeCredential(tenant=tenant))
    form.is_valid()
    return {name: form.errors.get(name) for name in ("authorize_base_url", "api_base_url")}


@pytest.mark.parametrize("exchange, url", [
    ("kucoin", METADATA), ("kucoin", "https://127.0.0.1:6379"), ("kucoin", "https://api.kucoin.com.evil.example"),
    ("okx", "https://10.0.0.5"), ("kraken", "http://api.kraken.com"),
    ("oauth2", "https://169.254.169.254"), ("oauth2", "https://localhost"), ("oauth2", "https://192.168.1.10"),
    ("oauth2", "https://[::1]"),
])
def test_the_form_refuses_a_host_outside_the_exchanges_or_a_private_one(tenant, production_policy, exchange, url):
    errors = form_errors(tenant, exchange, url, url)
    assert errors["authorize_base_url"] and errors["api_base_url"]


@pytest.mark.parametrize("exchange, authorize, api", [
    ("kucoin", "https://www.kucoin.com", "https://api.kucoin.com"),
    ("okx", "https://www.okx.com", "https://eea.okx.com"),
    ("kraken", "https://id.kraken.com", "https://api.kraken.com"),
])
def test_the_form_takes_the_exchanges_known_hosts(tenant, production_policy, exchange, authorize, api):
    assert form_errors(tenant, exchange, authorize, api) == {"authorize_base_url": None, "api_base_url": None}


def test_an_operator_allowed_host_is_taken(tenant, production_policy):
    production_policy.EXCHANGE_ALLOWED_EXTRA_HOSTS = ["staging.kucoin.example"]
    url = "https://staging.kucoin.example"
    assert form_errors(tenant, "kucoin", url, url) == {"authorize_base_url": None, "api_base_url": None}


# Loopback only, on a port nothing listens on: should the policy ever regress, no traffic leaves this machine.
@pytest.mark.parametrize("url", ["https://127.0.0.1:9/", "https://localhost:9/oauth/token", "https://[::1]:9/"])
def test_a_call_to_a_stored_private_base_url_is_refused_before_any_connection(production_policy, url):
    # The URL is the session's own configured host: only the production policy stops it.
    with exchange_session(allowed_base_urls=[url]) as session:
        with pytest.raises(HostNotAllowed):
            session.get(url)


def test_outside_production_the_sandbox_on_loopback_is_called(settings, live_server):
    settings.EXCHANGE_HOSTS_ENFORCED = False
    with exchange_session(allowed_base_urls=[live_server.url]) as session:
        assert session.get(f"{live_server.url}/healthz").status_code in (200, 404)
