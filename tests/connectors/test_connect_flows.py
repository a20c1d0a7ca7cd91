import pytest

from broker_portal.models import AuditEvent
from connectors.models import ExchangeConnection
from sandbox import clock as sandbox_clock
from sandbox import faults as sandbox_faults
from sandbox.models import ApiKey as SandboxKey
from sandbox.models import Token as SandboxToken

from .helpers import csrf_token, query_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_kucoin_connect_ends_with_an_active_connection_whose_api_calls_work(browser_session, portal, sandbox_accounts):
    authorize_url = browser_session.start_connect("kucoin", ["API_COMMON", "API_SPOT", "API_WITHDRAW_OAUTH"])
    # KuCoin: state always, and the redirect URL unencoded.
    assert "redirect_uri=http://localhost:" in authorize_url
    assert query_of(authorize_url)["state"]

    account = sandbox_accounts["kucoin"]["trader"]
    callback = browser_session.consent(
        authorize_url, account["email"], account["password"], scopes=["API_COMMON", "API_SPOT", "API_WITHDRAW_OAUTH"]
    )
    response = browser_session.session.get(callback, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert response.headers["Referrer-Policy"] == "no-referrer"

    connection = ExchangeConnection.objects.get()
    assert connection.status == "active" and connection.user == portal["user"]
    assert set(connection.permissions) == {"API_COMMON", "API_SPOT", "API_WITHDRAW_OAUTH"}
    assert connection.api_key and connection.api_secret and connection.api_passphrase
    assert AuditEvent.objects.filter(action="connection.connected", tenant=portal["tenant"]).exists()

    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "Active" in dashboard and 'data-currency="USDT"' in dashboard
    assert "195,000.00 USDT" in dashboard  # 1.5 BTC in each of main and trade_hf at the exchange's 65000 USDT
    assert connection.api_secret not in dashboard and connection.access_token not in dashboard


@pytest.mark.parametrize(
    "exchange_id, expected_permissions",
    [
        ("okx", {"read_only"}),
        (
            "kraken",
            {
                "account.info:basic",
                "account.fast-api-key:write",
                "account.fast-api-key:funds-query",
                "account.fast-api-key:ledger-query",
                "account.fast-api-key:trades-query-closed",
            },
        ),
        ("peatio", {"profile", "history"}),
    ],
)
def test_each_exchange_connects_with_working_api_calls(
    browser_session, portal, sandbox_accounts, exchange_id, expected_permissions
):
    account = sandbox_accounts[exchange_id]["trader"]
    response = browser_session.connect(exchange_id, account)
    assert response.status_code == 302 and response.headers["Location"] == "/", response.text[:1500]
    connection = ExchangeConnection.objects.get(exchange=exchange_id)
    assert connection.status == "active"
    assert set(connection.permissions) == expected_permissions
    assert connection.api_key and connection.api_secret
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert 'data-currency="USDT"' in dashboard, dashboard[:3000]
    if exchange_id != "peatio":  # the Peatio-style API quotes no prices to the portal
        assert "97,500.00 USDT" in dashboard


def test_peatio_scopes_are_space_separated_so_the_query_string_reads_plus(browser_session, sandbox_accounts):
    authorize_url = browser_session.start_connect("peatio", ["profile", "history"])
    # As in the document's "scope=profile+history+trade": each "+" is an encoded space, never %2B.
    assert "scope=profile+history&" in authorize_url and "%2B" not in authorize_url
    assert query_of(authorize_url)["scope"] == "profile history"


# OKX is not here: its access token has no refresh (tests/connectors/test_okx_fast_api.py covers its disconnect).
@pytest.mark.parametrize("exchange_id, access_lifetime", [("kraken", 24 * 3600)])
def test_disconnect_with_an_expired_access_token_refreshes_once_then_deletes_the_key_and_revokes(
    browser_session, portal, sandbox_accounts, exchange_id, access_lifetime
):
    assert browser_session.connect(exchange_id, sandbox_accounts[exchange_id]["trader"]).status_code == 302
    connection = ExchangeConnection.objects.get()
    # The exchange's clock is past the access token's life (OKX 1 h, Kraken 24 h); the refresh token is fine.
    sandbox_clock.set_offset(access_lifetime + 60)
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    response = browser_session.session.post(
        f"{portal['url']}/connect/{exchange_id}/{connection.pk}/disconnect/",
        data={"csrfmiddlewaretoken": csrf_token(dashboard)},
        allow_redirects=False,
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="connection.disconnected")
    assert event.details["api_key_deleted"] is True and "error" not in event.details, event.details
    assert not SandboxKey.objects.filter(exchange=exchange_id, deleted_at__isnull=True).exists()


def test_kucoin_key_limit_ends_in_guidance_and_keeps_the_working_connection(browser_session, sandbox_accounts):
    account = sandbox_accounts["kucoin"]["trader"]
    for _ in range(5):  # KuCoin cannot delete Fast API keys, so each reconnect adds one, up to its limit
        assert browser_session.connect("kucoin", account).status_code == 302
    key_before = ExchangeConnection.objects.get().api_key
    refused = browser_session.connect("kucoin", account)
    assert refused.status_code == 400 and "most API keys it may have" in refused.text
    assert ExchangeConnection.objects.get().api_key == key_before


def test_okx_one_key_per_user_is_replaced_on_reconnect_or_explained(browser_session, sandbox_accounts):
    account = sandbox_accounts["okx"]["trader"]
    assert browser_session.connect("okx", account).status_code == 302
    first_key = ExchangeConnection.objects.get().api_key
    # Reconnecting deletes our old key first, with the new token, so OKX's one-key rule is met.
    assert browser_session.connect("okx", account).status_code == 302
    assert ExchangeConnection.objects.get().api_key != first_key
    # A key the portal does not know about is deleted too: "Always call delete-apikey before creating a new key"
    # (okx/builder-integration-demo, demos/third-party-fastapi/PITFALLS.md 4).
    ExchangeConnection.objects.update(api_key="", api_secret="")
    assert browser_session.connect("okx", account).status_code == 302
    connection = ExchangeConnection.objects.get()
    assert list(
        SandboxKey.objects.filter(exchange="okx", deleted_at__isnull=True).values_list("api_key", flat=True)
    ) == [connection.api_key]


def test_kraken_reconnect_makes_the_new_key_before_deleting_the_old_one(browser_session, sandbox_accounts):
    account = sandbox_accounts["kraken"]["trader"]
    assert browser_session.connect("kraken", account).status_code == 302
    old_key = ExchangeConnection.objects.get().api_key
    assert browser_session.connect("kraken", account).status_code == 302
    connection = ExchangeConnection.objects.get()
    assert connection.status == "active" and connection.api_key != old_key
    assert list(
        SandboxKey.objects.filter(exchange="kraken", deleted_at__isnull=True).values_list("api_key", flat=True)
    ) == [connection.api_key]
    assert AuditEvent.objects.get(action="connection.previous_api_key_deleted").details["deleted"] is True


def reconnect_with_failing_key_endpoint(browser_session, account, *, exchange: str, endpoint: str):
    """Connect, then connect again while the exchange's key endpoint answers 500: the rows before and after."""
    assert browser_session.connect(exchange, account).status_code == 302
    before = ExchangeConnection.objects.get()
    sandbox_faults.fault_set(exchange=exchange, endpoint=endpoint, kind="500")
    assert browser_session.connect(exchange, account).status_code in (400, 502)
    sandbox_faults.fault_clear()
    return before, ExchangeConnection.objects.get()


def test_kraken_reconnect_whose_new_key_fails_keeps_the_old_working_key(browser_session, sandbox_accounts):
    before, after = reconnect_with_failing_key_endpoint(
        browser_session, sandbox_accounts["kraken"]["trader"], exchange="kraken", endpoint="fast-api-key"
    )
    assert after.status == "active" and after.api_key == before.api_key and after.access_token == before.access_token
    assert SandboxKey.objects.filter(api_key=before.api_key, deleted_at__isnull=True).exists()


def test_okx_reconnect_whose_new_key_fails_after_the_old_one_went_asks_to_connect_again(
    browser_session, sandbox_accounts
):
    before, after = reconnect_with_failing_key_endpoint(
        browser_session, sandbox_accounts["okx"]["trader"], exchange="okx", endpoint="apikey"
    )
    # OKX allows one key per user, so the old key had to go first: the connection must not keep it as if it worked.
    assert after.status == "needs_reauthorization" and not after.api_key and not after.api_secret
    assert not SandboxKey.objects.filter(exchange="okx", deleted_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="connection.api_key_lost").exists()
    # The tokens the failed flow got were revoked; only the first flow's family is still valid.
    live = SandboxToken.objects.filter(client__exchange="okx", revoked_at__isnull=True)
    assert {token.access_token for token in live} == {before.access_token}


def test_no_permission_chosen_is_an_error_tied_to_the_permissions_group(browser_session):
    url = f"{browser_session.base_url}/connect/kucoin/"
    form = browser_session.session.get(url)
    answer = browser_session.session.post(
        url, data={"csrfmiddlewaretoken": csrf_token(form.text)}, allow_redirects=False
    )
    page = " ".join(answer.text.split())
    assert answer.status_code == 200
    assert '<fieldset class="permissions" aria-describedby="permissions-error">' in page
    assert '<p class="message error" id="permissions-error">Choose at least one permission.</p>' in page
