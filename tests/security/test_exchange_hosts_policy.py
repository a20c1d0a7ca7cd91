"""In production, server-side calls go only to each exchange's known hosts (or one a superuser allowed on the
credential, or the operator for the deployment); the generic OAuth 2.0 provider refuses private, loopback and
link-local addresses. Checked in the credential form and again at call time, against the calling credential's
own exchange."""

import socket

import pytest
from allauth.mfa.totp.internal.auth import TOTP

from broker_portal.models import AuditEvent, User
from connectors.base import hosts
from connectors.base.hosts import hosts_for_calls
from connectors.base.http import ExchangeUnavailable, HostNotAllowed, exchange_session
from connectors.forms import ExchangeCredentialForm
from connectors.models import ExchangeCredential
from connectors.socialaccount import app_from_credential

pytestmark = pytest.mark.django_db

METADATA = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture
def production_policy(settings):
    settings.EXCHANGE_HOSTS_ENFORCED = True
    settings.EXCHANGE_ALLOWED_EXTRA_HOSTS = []
    return settings


def form_errors(tenant, exchange, authorize_base_url, api_base_url) -> dict:
    data = {
        "tenant": tenant.pk,
        "exchange": exchange,
        "is_enabled": "on",
        "client_id": f"{exchange}-client",
        "client_type": "confidential",
        "redirect_uris": "https://alpha.localhost/accounts/callback/",
        "authorize_base_url": authorize_base_url,
        "api_base_url": api_base_url,
        "settings": "{}",
        "kucoin_partner": "partner",
        "kucoin_broker_name": "broker",
        "kucoin_key_creation": "v2",
    }
    form = ExchangeCredentialForm(data=data, instance=ExchangeCredential(tenant=tenant))
    form.is_valid()
    return {name: form.errors.get(name) for name in ("authorize_base_url", "api_base_url")}


@pytest.mark.parametrize(
    "exchange, url",
    [
        ("kucoin", METADATA),
        ("kucoin", "https://127.0.0.1:6379"),
        ("kucoin", "https://api.kucoin.com.evil.example"),
        ("okx", "https://10.0.0.5"),
        ("kraken", "http://api.kraken.com"),
        ("oauth2", "https://169.254.169.254"),
        ("oauth2", "https://localhost"),
        ("oauth2", "https://192.168.1.10"),
        ("oauth2", "https://[::1]"),
    ],
)
def test_the_form_refuses_a_host_outside_the_exchanges_or_a_private_one(tenant, production_policy, exchange, url):
    errors = form_errors(tenant, exchange, url, url)
    assert errors["authorize_base_url"] and errors["api_base_url"]


@pytest.mark.parametrize(
    "exchange, authorize, api",
    [
        ("kucoin", "https://www.kucoin.com", "https://api.kucoin.com"),
        ("okx", "https://www.okx.com", "https://eea.okx.com"),
        ("kraken", "https://id.kraken.com", "https://api.kraken.com"),
    ],
)
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


# A host outside the exchange's own is allowed on one credential by a superuser only, and audited by name.


def credential_change_form(credential, **overrides) -> dict:
    return {
        "tenant": credential.tenant.pk,
        "exchange": credential.exchange,
        "is_enabled": "on",
        "client_id": credential.client_id,
        "client_type": "confidential",
        "redirect_uris": "https://alpha.localhost/connect/kucoin/callback/",
        "authorize_base_url": credential.authorize_base_url,
        "api_base_url": credential.api_base_url,
        "settings": "{}",
        "kucoin_partner": "partner",
        "kucoin_broker_name": "broker",
        "kucoin_key_creation": "v2",
        **overrides,
    }


@pytest.fixture
def kucoin_credential(tenant):
    return ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="kucoin",
        client_id="alpha-kucoin",
        client_secret="s3cret-value",
        authorize_base_url="https://www.kucoin.com",
        api_base_url="https://api.kucoin.com",
        settings={"partner": "partner", "broker_name": "broker", "key_creation": "v2"},
    )


def signed_in(client_at, user):
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = client_at("alpha.localhost")
    client.force_login(user)
    return client


def test_a_superuser_allows_a_staging_host_on_one_credential_and_it_is_audited(
    tenant, production_policy, kucoin_credential, client_at
):
    client = signed_in(client_at, User.objects.create_superuser(email="root@platform.example", password="x"))
    url = f"/admin/connectors/exchangecredential/{kucoin_credential.pk}/change/"
    staging = "https://10.20.0.5"
    refused = client.post(url, credential_change_form(kucoin_credential, api_base_url=staging))
    assert refused.status_code == 200 and "is not one of this exchange" in refused.content.decode()

    allowed = client.post(
        url,
        credential_change_form(
            kucoin_credential, api_base_url=staging, extra_hosts="10.20.0.5\nStaging.KuCoin.example"
        ),
    )
    assert allowed.status_code == 302, allowed.content.decode()[:3000]
    kucoin_credential.refresh_from_db()
    assert kucoin_credential.api_base_url == staging
    assert kucoin_credential.extra_hosts == ["10.20.0.5", "staging.kucoin.example"]
    event = AuditEvent.objects.get(action="credential.extra_hosts_allowed")
    assert event.tenant == tenant and event.details["extra_hosts"] == ["10.20.0.5", "staging.kucoin.example"]


def test_a_broker_admin_sees_the_allowed_hosts_but_cannot_change_them(
    tenant, production_policy, kucoin_credential, broker_admin, client_at
):
    kucoin_credential.extra_hosts = ["staging.kucoin.example"]
    kucoin_credential.save()
    client = signed_in(client_at, broker_admin)
    url = f"/admin/connectors/exchangecredential/{kucoin_credential.pk}/change/"
    assert "staging.kucoin.example" in client.get(url).content.decode()
    response = client.post(
        url, credential_change_form(kucoin_credential, api_base_url="https://10.20.0.5", extra_hosts="10.20.0.5")
    )
    assert response.status_code == 200 and "is not one of this exchange" in response.content.decode()
    kucoin_credential.refresh_from_db()
    assert kucoin_credential.extra_hosts == ["staging.kucoin.example"]
    assert not AuditEvent.objects.filter(action="credential.extra_hosts_allowed").exists()


@pytest.mark.parametrize(
    "line",
    [
        "https://staging.kucoin.example",
        "staging.kucoin.example:8443",
        "staging.kucoin.example/path",
        "bad host",
        "a\x00b",
    ],
)
def test_an_extra_host_is_a_bare_host_name(tenant, production_policy, kucoin_credential, line):
    form = ExchangeCredentialForm(
        data=credential_change_form(kucoin_credential, extra_hosts=line), instance=kucoin_credential
    )
    assert not form.is_valid() and form.errors.get("extra_hosts")


def test_settings_cannot_name_the_hosts_calls_may_reach(tenant, kucoin_credential):
    form = ExchangeCredentialForm(
        data=credential_change_form(kucoin_credential, settings='{"call_hosts": {"known_hosts": ["10.0.0.1"]}}'),
        instance=kucoin_credential,
    )
    assert not form.is_valid() and "call_hosts" in str(form.errors["settings"])
    kucoin_credential.settings = {**kucoin_credential.settings, "call_hosts": {"known_hosts": ["10.0.0.1"]}}
    assert app_from_credential(kucoin_credential).settings["call_hosts"] == hosts_for_calls("kucoin", [])


def test_at_call_time_a_credential_reaches_only_its_own_exchanges_hosts(production_policy):
    # A KuCoin credential whose stored base URL was edited around the form to another exchange's host.
    with exchange_session(allowed_base_urls=["https://www.okx.com"], hosts=hosts_for_calls("kucoin", [])) as session:
        with pytest.raises(HostNotAllowed, match="not one of this exchange"):
            session.get("https://www.okx.com/api/v5/account/balance")


def test_at_call_time_a_host_a_superuser_allowed_is_called(production_policy):
    # Loopback on a port nothing listens on: allowed, so the call is made, and fails to connect.
    url = "https://127.0.0.1:9/"
    with exchange_session(allowed_base_urls=[url], hosts=hosts_for_calls("kucoin", ["127.0.0.1"])) as session:
        with pytest.raises(ExchangeUnavailable):
            session.get(url)
    with exchange_session(allowed_base_urls=[url], hosts=hosts_for_calls("kucoin", [])) as session:
        with pytest.raises(HostNotAllowed):
            session.get(url)


def test_a_name_that_rebinds_to_loopback_after_the_check_is_not_connected_to(production_policy, monkeypatch):
    """A rebinding DNS server answers the host check with a public address and the connection with a private
    one: the connection resolves and checks in one step, so nothing reaches the private address."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    url = f"https://localhost:{port}/oauth/token"
    monkeypatch.setattr(hosts, "resolves_to_public_addresses_only", lambda host: True)  # the first answer
    try:
        with exchange_session(allowed_base_urls=[url], hosts=hosts_for_calls("oauth2", [])) as session:
            with pytest.raises(HostNotAllowed, match="not a public address"):
                session.post(url, data={"grant_type": "authorization_code"})
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
