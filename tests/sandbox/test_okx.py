"""OKX Fast API on the sandbox, as okx/builder-integration-demo (demos/third-party-fastapi/INTEGRATION_GUIDE.md,
PITFALLS.md, backend/okx_client.py) shows it: authorization code only, a JSON token call with no refresh token,
delete-then-create of the one key per user, and the signed v5 REST calls."""

from datetime import UTC, datetime, timedelta

import pytest
import requests

from sandbox.models import ApiKey, Token
from sandbox.services import client_register

from .support import (
    OKX_REDIRECT,
    authorize_code,
    authorize_url,
    csrf_token,
    okx_request,
    pkce_pair,
    query_of,
    sign_in,
    token_call,
)

pytestmark = pytest.mark.django_db(transaction=True)
GOOD_PASSPHRASE = "Sandbox#Pass1"


def bearer(tokens) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def create_key(base, tokens, **body):
    return requests.post(
        f"{base}/okx/api/v5/users/oauth/apikey",
        headers=bearer(tokens),
        json={"label": "broker", "passphrase": GOOD_PASSPHRASE, "perm": "read_only", "bindApp": True, **body},
    )


def delete_key(base, tokens):
    return requests.post(f"{base}/okx/api/v5/users/oauth/delete-apikey", headers=bearer(tokens))


def test_authorize_is_authorization_code_with_fast_api_offline_and_no_pkce(base, accounts, clients):
    user = accounts["okx"]["trader"]
    query = authorize_code(authorize_url(base), user["email"], user["password"])
    assert query["state"] == "o" and query["code"] and query["domain"] == base.split("//")[1].split("/")[0]
    _, challenge = pkce_pair()
    refused = {
        "scope without fast_api": authorize_url(base, scope="read_only"),
        "no access_type": authorize_url(base, access_type=None),
        "PKCE": authorize_url(base, code_challenge=challenge, code_challenge_method="S256"),
        "public client": authorize_url(base, client_id="okx-app"),
        # Encoded twice, the redirect_uri is not the registered one (PITFALLS.md 2).
        "double encoding": authorize_url(base, redirect_uri=requests.utils.quote(OKX_REDIRECT, safe="")),
    }
    for reason, url in refused.items():
        response = requests.get(url, allow_redirects=False)
        assert response.status_code == 400 and "Location" not in response.headers, reason


def test_token_call_is_json_only_and_gives_no_refresh_token(base, accounts, clients):
    user = accounts["okx"]["trader"]
    code = authorize_code(authorize_url(base), user["email"], user["password"])["code"]
    as_form = token_call(base, code, form=True)
    assert as_form.status_code == 400 and as_form.json()["code"] == "50002"
    tokens = token_call(base, code)
    assert tokens.status_code == 200, tokens.text
    assert set(tokens.json()) == {"access_token", "token_type", "expires_in"}
    assert tokens.json()["token_type"] == "bearer" and tokens.json()["expires_in"] == 3600
    stored = Token.objects.get(access_token=tokens.json()["access_token"])
    refresh = requests.post(
        f"{base}/okx/v5/users/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": stored.refresh_token,
            "client_id": "okx-broker",
            "client_secret": "okx-secret",
        },
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "unsupported_grant_type"
    code = authorize_code(authorize_url(base), user["email"], user["password"])["code"]
    assert token_call(base, code, client_secret="wrong").status_code == 401


def test_delete_then_create_one_key_per_user(base, okx_tokens):
    tokens = okx_tokens()
    none = delete_key(base, tokens)
    assert none.json()["code"] == "59506"  # "the key does not exist": carry on
    for weak in ["Sh1!abc", "alllowercase1!", "NoDigits!!", "NoSpecial123", "x" * 40]:
        assert create_key(base, tokens, passphrase=weak).json()["code"] == "51000", weak
    for body in [{"perm": "read_only,trade"}, {"perm": "withdraw"}, {"bindApp": "true"}, {"label": ""}]:
        assert create_key(base, tokens, **body).json()["code"] == "51000", body
    missing_bind = requests.post(
        f"{base}/okx/api/v5/users/oauth/apikey",
        headers=bearer(tokens),
        json={"label": "broker", "passphrase": GOOD_PASSPHRASE, "perm": "read_only"},
    )
    assert missing_bind.json()["code"] == "51000"
    created = create_key(base, tokens, perm="trade").json()
    assert created["code"] == "0", created
    key = created["data"][0]
    assert set(key) == {"label", "apiKey", "secretKey", "passphrase", "perm", "bindApp"}
    assert key["perm"] == "trade" and key["bindApp"] is True and key["passphrase"] == GOOD_PASSPHRASE
    assert create_key(base, tokens).json()["code"] == "50116"  # one active key per user per broker
    deleted = delete_key(base, tokens).json()
    assert deleted == {"code": "0", "msg": "", "data": [{"result": True}]}
    api = base + "/okx"
    assert okx_request(api, key, "GET", "/api/v5/account/balance").json()["code"] == "50111"
    assert create_key(base, tokens).json()["code"] == "0"


def test_the_broker_must_be_an_api_broker_with_an_ip_allowlist_for_bound_keys(base, okx_tokens):
    tokens = okx_tokens()
    client_register(
        exchange="okx",
        client_id="okx-broker",
        client_secret="okx-secret",
        redirect_uris=[OKX_REDIRECT],
        permissions=["read_only", "trade", "fast_api"],
        api_broker=False,
        ip_allowlist=["127.0.0.1"],
    )
    assert create_key(base, tokens).json()["code"] == "50117"
    client_register(
        exchange="okx",
        client_id="okx-broker",
        client_secret="okx-secret",
        redirect_uris=[OKX_REDIRECT],
        permissions=["read_only", "trade", "fast_api"],
        ip_allowlist=[],
    )
    refused = create_key(base, tokens).json()
    assert refused["code"] == "50118" and not ApiKey.objects.filter(exchange="okx").exists()
    unbound = create_key(base, tokens, bindApp=False).json()  # only a bound key needs the allowlist
    assert unbound["code"] == "0" and unbound["data"][0]["bindApp"] is False


def test_fast_api_needs_the_scope_and_a_live_token(base, okx_tokens, accounts, clients):
    # The consent page lets the user untick fast_api: such a token cannot make keys.
    user = accounts["okx"]["trader"]
    session = requests.Session()
    url = authorize_url(base, scope="fast_api,read_only")
    assert sign_in(session, url, user["email"], user["password"]).status_code == 302
    page = session.get(url)
    answer = session.post(
        url,
        allow_redirects=False,
        data={"csrfmiddlewaretoken": csrf_token(page.text), "action": "approve", "scope": ["read_only"]},
    )
    tokens = token_call(base, query_of(answer.headers["Location"])["code"]).json()
    assert create_key(base, tokens).json()["code"] == "53017"
    tokens = okx_tokens()
    requests.post(f"{base}/control/clock", json={"offset_seconds": 3601})
    assert create_key(base, tokens).json()["code"] == "53002"
    assert delete_key(base, tokens).json()["code"] == "53002"


def test_a_key_outlives_its_access_token(base, okx_tokens):
    tokens = okx_tokens()
    key = create_key(base, tokens).json()["data"][0]
    requests.post(f"{base}/control/clock", json={"offset_seconds": 7 * 24 * 3600})
    balance = okx_request(base + "/okx", key, "GET", "/api/v5/account/balance")
    assert balance.json()["code"] == "0"


def test_signed_rest_and_pagination(base, okx_tokens):
    key = create_key(base, okx_tokens()).json()["data"][0]
    api = base + "/okx"
    balance = okx_request(api, key, "GET", "/api/v5/account/balance?ccy=BTC").json()
    assert balance["code"] == "0" and balance["data"][0]["details"][0]["availBal"] == "1.5"
    assert {"totalEq", "details"} <= set(balance["data"][0])
    assert okx_request(api, key, "GET", "/api/v5/account/balance", **{"OK-ACCESS-SIGN": "x"}).json()["code"] == "50113"
    assert (
        okx_request(api, key, "GET", "/api/v5/account/balance", **{"OK-ACCESS-PASSPHRASE": "x"}).json()["code"]
        == "50105"
    )
    unknown = okx_request(api, key, "GET", "/api/v5/account/balance", **{"OK-ACCESS-KEY": "x"})
    assert unknown.status_code == 401 and unknown.json() == {
        "code": "50111",
        "msg": "Invalid OK-ACCESS-KEY.",
        "data": [],
    }
    old = datetime.now(UTC) - timedelta(seconds=40)
    assert okx_request(api, key, "GET", "/api/v5/account/balance", when=old).json()["code"] == "50102"
    bad_format = okx_request(api, key, "GET", "/api/v5/account/balance", **{"OK-ACCESS-TIMESTAMP": "1700000000000"})
    assert bad_format.json()["code"] == "50112"
    currencies = okx_request(api, key, "GET", "/api/v5/asset/currencies").json()["data"]
    assert {"ccy": "USDT", "chain": "USDT-TRC20"}.items() <= next(
        c for c in currencies if c["chain"] == "USDT-TRC20"
    ).items()
    assert requests.get(api + "/api/v5/market/ticker?instId=BTC-USDT").json()["data"][0]["last"] == "65000"
    assert okx_request(api, key, "GET", "/api/v5/trade/fills-history").json()["code"] == "51000"  # instType required
    first = okx_request(api, key, "GET", "/api/v5/trade/fills-history?instType=SPOT&limit=20").json()["data"]
    rest = okx_request(
        api, key, "GET", f"/api/v5/trade/fills-history?instType=SPOT&after={first[-1]['billId']}"
    ).json()["data"]
    assert len(first) == 20 and len(rest) == 10
    assert not {row["tradeId"] for row in first} & {row["tradeId"] for row in rest}
    deposits = okx_request(api, key, "GET", "/api/v5/asset/deposit-history?limit=25").json()["data"]
    older = okx_request(api, key, "GET", f"/api/v5/asset/deposit-history?after={deposits[-1]['ts']}").json()["data"]
    assert len(deposits) == 25 and len(older) == 5
    assert len(okx_request(api, key, "GET", "/api/v5/asset/withdrawal-history").json()["data"]) == 30
    # bills hold the last 7 days only; the archive the 3 months (the seeded twelve weeks): test_history.py
    assert len(okx_request(api, key, "GET", "/api/v5/account/bills-archive").json()["data"]) == 30
    body = {"ccy": "USDT", "amt": "10", "dest": "4", "toAddr": "T1", "chain": "USDT-TRC20"}
    assert okx_request(api, key, "POST", "/api/v5/asset/withdrawal", body=body).json()["code"] == "50120"


def test_okx_user_of_another_region_is_answered_only_on_the_callbacks_domain(base, accounts, clients, settings):
    """SANDBOX_OKX_DOMAIN: the callback names another host of the same server, and the user's calls are answered
    only there (the public ticker answers anywhere)."""
    port = base.split("//")[1].split("/")[0].rsplit(":", 1)[1]
    settings.SANDBOX_OKX_DOMAIN = f"127.0.0.1:{port}"
    regional = f"http://127.0.0.1:{port}/sandbox"
    user = accounts["okx"]["trader"]
    query = authorize_code(authorize_url(base, state="o2"), user["email"], user["password"])
    assert query["domain"] == f"127.0.0.1:{port}" != base.split("//")[1].split("/")[0]
    elsewhere = token_call(base, query["code"])
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "53020"
    tokens = token_call(regional, query["code"]).json()
    assert create_key(base, tokens).json()["code"] == "53020"
    key = create_key(regional, tokens).json()["data"][0]
    assert okx_request(base + "/okx", key, "GET", "/api/v5/account/balance").json()["code"] == "53020"
    assert okx_request(regional + "/okx", key, "GET", "/api/v5/account/balance").json()["code"] == "0"
    assert requests.get(f"{base}/okx/api/v5/market/ticker?instId=BTC-USDT").json()["code"] == "0"
