"""Kraken Connect as krakenfx/api-specs oauth/openapi_v3.yaml describes it: keys deleted by name, the account
identified by userinfo's IIBAN, the authorization page in the user's language."""

import json

import pytest
from django.utils import translation

from broker_portal.models import AuditEvent
from connectors.exchanges import EXCHANGES
from connectors.kraken.client import KrakenAPI, key_name
from connectors.kraken.provider import authorize_language
from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.token_refresh import provider_for
from sandbox.models import ApiKey as SandboxKey
from sandbox.models import SandboxUser
from sandbox.views.kraken import account_iban

from .canned import json_answer
from .helpers import csrf_token

pytestmark = pytest.mark.django_db(transaction=True)

WITHOUT_ACCOUNT_INFO = ["account.fast-api-key:write", "account.fast-api-key:funds-query"]


def disconnect(browser_session, portal, connection):
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    response = browser_session.session.post(
        f"{portal['url']}/connect/kraken/{connection.pk}/disconnect/",
        data={"csrfmiddlewaretoken": csrf_token(dashboard)},
        allow_redirects=False,
    )
    assert response.status_code == 302


def live_keys():
    return SandboxKey.objects.filter(exchange="kraken", deleted_at__isnull=True)


def test_the_key_is_deleted_by_its_name_in_a_json_body(canned_answers):
    sent = []

    def answer(request):
        sent.append(request)
        return json_answer({"error": [], "result": True})(request)

    canned_answers["/oauth/fast-api-key"] = answer
    connection = type("Connection", (), {"api_key_id": "cG9ydGFs", "details": {"api_key_name": "portal-1-abc123"}})()
    assert KrakenAPI({"api_base_url": "https://api.kraken.test"}).delete_api_key("access", connection) is True
    (request,) = sent
    assert request.method == "DELETE" and request.url == "https://api.kraken.test/oauth/fast-api-key"
    assert json.loads(request.body) == {"api_key_name": "portal-1-abc123"}
    assert request.headers["Authorization"] == "Bearer access" and request.headers["Content-Type"] == "application/json"
    # Without a stored name there is nothing to name: no call at all.
    nameless = type("Connection", (), {"api_key_id": "cG9ydGFs", "details": {}, "permissions": []})()
    assert KrakenAPI({"api_base_url": "https://api.kraken.test"}).delete_api_key("access", nameless) is False
    assert len(sent) == 1


def test_a_key_made_before_names_were_stored_is_named_from_the_list(canned_answers):
    sent = []

    def answer(request):
        sent.append(request)
        if request.method == "GET":
            return json_answer(
                {
                    "error": [],
                    "result": [
                        {"id": "b3RoZXI-", "api_key_name": "other"},
                        {"id": "cG9ydGFs", "api_key_name": "portal"},
                    ],
                }
            )(request)
        return json_answer({"error": [], "result": True})(request)

    canned_answers["/oauth/fast-api-key"] = answer
    api = KrakenAPI({"api_base_url": "https://api.kraken.test"})
    legacy = type(
        "Connection",
        (),
        {
            "api_key_id": "cG9ydGFs",
            "details": {},
            "permissions": ["account.fast-api-key:write", "account.fast-api-key:read"],
        },
    )()
    assert api.delete_api_key("access", legacy) is True
    assert [request.method for request in sent] == ["GET", "DELETE"]
    assert json.loads(sent[1].body) == {"api_key_name": "portal"}
    # Without the read scope the list cannot be asked for: nothing is sent.
    legacy.permissions = ["account.fast-api-key:write"]
    assert api.delete_api_key("access", legacy) is False and len(sent) == 2


def test_key_names_fit_the_rule_and_differ_per_connect():
    names = {key_name() for _ in range(50)}
    assert len(names) == 50 and all(1 <= len(name) <= 32 for name in names)


def test_connect_stores_the_key_name_and_disconnect_leaves_no_live_key(browser_session, portal, sandbox_accounts):
    assert browser_session.connect("kraken", sandbox_accounts["kraken"]["trader"]).status_code == 302
    connection = ExchangeConnection.objects.get()
    key = live_keys().get()
    assert connection.details["api_key_name"] == key.name and key.api_key == connection.api_key
    disconnect(browser_session, portal, connection)
    assert AuditEvent.objects.get(action="connection.disconnected").details["api_key_deleted"] is True
    assert not live_keys().exists()


def test_reconnect_deletes_the_replaced_key_by_its_name(browser_session, sandbox_accounts):
    account = sandbox_accounts["kraken"]["trader"]
    assert browser_session.connect("kraken", account).status_code == 302
    first_name = ExchangeConnection.objects.get().details["api_key_name"]
    assert browser_session.connect("kraken", account).status_code == 302
    connection = ExchangeConnection.objects.get()
    assert connection.details["api_key_name"] != first_name
    assert list(live_keys().values_list("name", flat=True)) == [connection.details["api_key_name"]]


def test_the_account_id_is_userinfos_iban(browser_session, sandbox_accounts):
    account = sandbox_accounts["kraken"]["trader"]
    assert browser_session.connect("kraken", account).status_code == 302  # the default permissions ask for it
    connection = ExchangeConnection.objects.get()
    assert "account.info:basic" in connection.permissions
    user = SandboxUser.objects.get(exchange="kraken", email=account["email"])
    assert connection.exchange_account_id == account_iban(user)


def test_without_account_info_the_connection_has_no_account_id_and_works(browser_session, sandbox_accounts):
    account = sandbox_accounts["kraken"]["trader"]
    callback = browser_session.consent(
        browser_session.start_connect("kraken", WITHOUT_ACCOUNT_INFO),
        account["email"],
        account["password"],
        scopes=WITHOUT_ACCOUNT_INFO,
    )
    assert browser_session.session.get(callback, allow_redirects=False).status_code == 302
    connection = ExchangeConnection.objects.get()
    assert connection.status == "active" and connection.exchange_account_id == "" and connection.api_key


def test_a_connection_without_account_id_takes_it_on_reconnect(browser_session, sandbox_accounts):
    account = sandbox_accounts["kraken"]["trader"]
    callback = browser_session.consent(
        browser_session.start_connect("kraken", WITHOUT_ACCOUNT_INFO),
        account["email"],
        account["password"],
        scopes=WITHOUT_ACCOUNT_INFO,
    )
    assert browser_session.session.get(callback, allow_redirects=False).status_code == 302
    # The reconnect page ticks the current grant; the user adds Kraken's defaults, account info among them.
    assert browser_session.connect("kraken", account, EXCHANGES["kraken"].default_permissions).status_code == 302
    connection = ExchangeConnection.objects.get()  # still one row, now with the account's identifier
    assert connection.exchange_account_id
    assert list(live_keys().values_list("api_key", flat=True)) == [connection.api_key]


@pytest.mark.parametrize(
    "language, page",
    [
        ("de", "de"),
        ("fr", "fr"),
        ("es", "es-es"),
        ("es-es", "es-es"),
        ("pt-br", "pt-br"),
        ("zh-hans", "zh-cn"),
        ("en-us", "en-us"),
        ("ja", ""),
        ("pt-pt", "pt-br"),
        ("zh-hant", ""),
        (None, ""),
    ],
)
def test_authorize_language_is_one_kraken_lists(language, page):
    assert authorize_language(language) == page


def test_the_authorization_page_is_in_the_active_language(portal, sandbox_accounts):
    credential = ExchangeCredential.objects.get(tenant=portal["tenant"], exchange="kraken")
    adapter = provider_for(credential).get_oauth2_adapter(None)
    base = f"{portal['url']}/sandbox/kraken"
    with translation.override("de"):
        assert adapter.authorize_url == f"{base}/de/oauth/authorize"
    with translation.override("ja"):  # no Kraken page in Japanese: the plain path
        assert adapter.authorize_url == f"{base}/oauth/authorize"


def test_the_portals_language_is_kraken_page_and_the_flow_goes_through_it(browser_session, sandbox_accounts):
    authorize_url = browser_session.start_connect("kraken")
    assert "/sandbox/kraken/en-us/oauth/authorize?" in authorize_url  # the portal's language is en-us
    callback = browser_session.consent(
        authorize_url, sandbox_accounts["kraken"]["trader"]["email"], sandbox_accounts["kraken"]["trader"]["password"]
    )
    assert browser_session.session.get(callback, allow_redirects=False).status_code == 302
    assert ExchangeConnection.objects.get().status == "active"
