"""KuCoin's Fast API as the evidence describes it (EVIDENCE.md, KuCoin): login and token calls on the www host,
the key made by FastAPI 2.0 (or the old path where the credential says so), its groups read from the answer,
and the broker's own name on every signed call."""

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from broker_portal.models import Tenant
from connectors.base.http import ExchangeSession
from connectors.forms import ExchangeCredentialForm
from connectors.kucoin.client import sign_headers
from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.token_refresh import Outcome, connection_refresh

from .helpers import query_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch):
    """Every call the portal makes to an exchange, as (method, url, body, headers); the calls still go out."""
    calls = []
    real_send_once = ExchangeSession.send_once

    def send_once(session, method, url, **kwargs):
        body = kwargs.get("json") if kwargs.get("json") is not None else kwargs.get("data")
        calls.append((method.upper(), url, body, dict(kwargs.get("headers") or {})))
        return real_send_once(session, method, url, **kwargs)

    monkeypatch.setattr(ExchangeSession, "send_once", send_once)
    return calls


def calls_to(sent, path_end):
    return [call for call in sent if urlsplit(call[1]).path.endswith(path_end)]


def set_credential(**settings):
    credential = ExchangeCredential.objects.get(exchange="kucoin")
    credential.settings = {**credential.settings, **settings}
    credential.save()
    return credential


def test_login_goes_to_the_www_host_with_the_oauth_scope_state_and_the_redirect_url_unencoded(browser_session, portal):
    authorize_url = browser_session.start_connect("kucoin", ["API_COMMON", "API_SPOT"])
    assert authorize_url.startswith(f"{portal['url']}/sandbox/kucoin-www/oauth?")
    query = query_of(authorize_url)
    # The groups are chosen on KuCoin's page: they are not OAuth scopes.
    assert query["scope"] == "OAUTH_CREATE_API" and query["response_type"] == "code" and query["state"]
    assert f"&redirect_uri={portal['url']}/connect/kucoin/callback/" in authorize_url


def test_the_permission_page_asks_to_approve_the_same_groups_at_kucoin(browser_session, portal):
    page = browser_session.session.get(f"{portal['url']}/connect/kucoin/").text
    assert 'id="consent-hint"' in page and "tick exactly what you tick here and untick the rest" in page


def test_the_code_is_exchanged_by_get_on_www_and_the_key_made_with_the_chosen_groups(
    browser_session, portal, sandbox_accounts, sent
):
    chosen = ["API_COMMON", "API_SPOT", "API_FUTURES"]
    account = sandbox_accounts["kucoin"]["trader"]
    callback = browser_session.consent(
        browser_session.start_connect("kucoin", chosen), account["email"], account["password"], scopes=chosen
    )
    assert browser_session.session.get(callback, allow_redirects=False).status_code == 302

    [(method, url, body, _)] = calls_to(sent, "/_oauth/access-token")
    assert method == "GET" and url.startswith(f"{portal['url']}/sandbox/kucoin-www/_oauth/access-token?")
    assert f"&redirect_uri={portal['url']}/connect/kucoin/callback/" in url  # unencoded, as the document asks
    assert parse_qs(urlsplit(url).query)["grant_type"] == ["authorization_code"]
    assert "client_secret" not in url and body is None
    [(method, url, body, headers)] = calls_to(sent, "/_oauth/resource/cyber-truck-vault/v2/outer/api-key/add")
    assert method == "POST" and url.startswith(f"{portal['url']}/sandbox/kucoin-www/")
    assert body == {
        "authGroupMap": {
            "API_COMMON": True,
            "API_SPOT": True,
            "API_MARGIN": False,
            "API_FUTURES": True,
            "API_EARN": False,
            "API_TRANSFER": False,
            "API_WITHDRAW_OAUTH": False,
        },
        "isAddressbookOnly": False,
    }
    assert headers["Authorization"].startswith("Bearer ")
    assert set(ExchangeConnection.objects.get().permissions) == set(chosen)


def test_the_connections_groups_are_the_keys_authgroup_on_the_old_partners_path(
    browser_session, sandbox_accounts, sent
):
    set_credential(key_creation="v1")
    account = sandbox_accounts["kucoin"]["trader"]
    # Chosen here: General and Spot. Approved on KuCoin's page: those and Earn. The old path takes no groups.
    callback = browser_session.consent(
        browser_session.start_connect("kucoin", ["API_COMMON", "API_SPOT"]),
        account["email"],
        account["password"],
        scopes=["API_COMMON", "API_SPOT", "API_EARN"],
    )
    assert browser_session.session.get(callback, allow_redirects=False).status_code == 302
    [(method, _, body, _)] = calls_to(sent, "/_oauth/resource/ucenter/outer/api-key/add")
    assert method == "POST" and body is None
    assert not calls_to(sent, "/cyber-truck-vault/v2/outer/api-key/add")
    # What the key has is what KuCoin's answer says (authGroup), not what the token's scope or our request said.
    assert set(ExchangeConnection.objects.get().permissions) == {"API_COMMON", "API_SPOT", "API_EARN"}


def test_groups_approved_at_kucoin_other_than_chosen_here_end_in_guidance(browser_session, sandbox_accounts):
    account = sandbox_accounts["kucoin"]["trader"]
    callback = browser_session.consent(
        browser_session.start_connect("kucoin", ["API_COMMON", "API_SPOT"]),
        account["email"],
        account["password"],
        scopes=["API_COMMON"],
    )
    response = browser_session.session.get(callback, allow_redirects=False)
    assert response.status_code == 400
    page = response.content.decode()
    assert "differ from the ones you chose here" in page and "General, Spot trading" in page
    assert not ExchangeConnection.objects.exists()


@pytest.mark.parametrize("grant_type", [None, "refresh_token"])
def test_refresh_posts_to_the_www_host_with_the_oauth_scope(
    browser_session, portal, sandbox_accounts, sent, grant_type
):
    if grant_type:
        set_credential(refresh_grant_type=grant_type)
    assert browser_session.connect("kucoin", sandbox_accounts["kucoin"]["trader"]).status_code == 302
    connection = ExchangeConnection.objects.get()
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
    [(method, url, body, _)] = calls_to(sent, "/_oauth/refresh-token")
    assert method == "POST" and url == f"{portal['url']}/sandbox/kucoin-www/_oauth/refresh-token"
    # Section 7.3's table says grant_type authorization_code (the default; a setting where KuCoin wants RFC's).
    assert body["grant_type"] == (grant_type or "authorization_code")
    assert body["scope"] == "OAUTH_CREATE_API" and body["refresh_token"] and "client_secret" not in body
    # The renewed token still makes keys with the approved groups.
    connection.refresh_from_db()
    assert connection.status == "active"


def test_signed_calls_carry_the_brokers_own_name_and_the_partner_signature(
    browser_session, portal, sandbox_accounts, sent
):
    credential = ExchangeCredential.objects.get(exchange="kucoin")
    partner, broker_name = credential.settings["partner"], credential.settings["broker_name"]
    assert broker_name and broker_name != partner
    assert browser_session.connect("kucoin", sandbox_accounts["kucoin"]["trader"]).status_code == 302
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "195,000.00 USDT" in dashboard  # the sandbox accepted the attribution (BTC in main and trade_hf)
    [(_, url, _, headers)] = calls_to(sent, "/api/v1/accounts")
    assert url.startswith(f"{portal['url']}/sandbox/kucoin/api/")  # signed REST on the api host
    assert headers["KC-API-PARTNER"] == partner and headers["KC-BROKER-NAME"] == broker_name
    assert headers["KC-API-PARTNER-VERIFY"] == "true"


def test_partner_signature_is_hmac_sha256_of_timestamp_partner_and_api_key():
    headers = sign_headers(
        api_key="key-1",
        secret="s",
        passphrase="p",
        method="GET",
        path_with_query="/x",
        body="",
        partner="PARTNER_ND",
        broker_name="BROKERMASTER",
        broker_key="broker-key",
        timestamp="1700000000000",
    )
    expected = base64.b64encode(hmac.new(b"broker-key", b"1700000000000PARTNER_NDkey-1", hashlib.sha256).digest())
    assert headers["KC-API-PARTNER-SIGN"] == expected.decode()
    assert headers["KC-API-PARTNER"] == "PARTNER_ND" and headers["KC-BROKER-NAME"] == "BROKERMASTER"


FORM = {
    "exchange": "kucoin",
    "is_enabled": "on",
    "client_id": "c",
    "client_type": "confidential",
    "authorize_base_url": "https://www.kucoin.test",
    "api_base_url": "https://api.kucoin.test",
    "settings": "{}",
}


@pytest.mark.parametrize(
    "partner, broker_name, field",
    [
        ("PARTNER_ND", "", "kucoin_broker_name"),
        ("", "BROKERMASTER", "kucoin_partner"),
        ("PARTNER_ND", "PARTNER_ND", "kucoin_broker_name"),
        ("PARTNER_ND", "BROKER MASTER", "kucoin_broker_name"),
    ],
)
def test_the_admin_form_checks_kucoins_attribution(partner, broker_name, field):
    form = ExchangeCredentialForm(data={**FORM, "kucoin_partner": partner, "kucoin_broker_name": broker_name})
    assert not form.is_valid() and field in form.errors


def test_the_admin_form_keeps_kucoins_settings():
    tenant = Tenant.objects.create(name="T", slug="t")
    form = ExchangeCredentialForm(
        data={
            **FORM,
            "tenant": tenant.pk,
            "settings": json.dumps({"refresh_grant_type": "refresh_token"}),
            "kucoin_partner": "PARTNER_ND",
            "kucoin_broker_name": "BROKERMASTER",
            "kucoin_key_creation": "v1",
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["settings"] == {
        "refresh_grant_type": "refresh_token",
        "partner": "PARTNER_ND",
        "broker_name": "BROKERMASTER",
        "key_creation": "v1",
    }
