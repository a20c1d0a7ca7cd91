"""OKX Fast API keys and signed v5 REST."""

from datetime import datetime, timedelta, timezone

import pytest
import requests

from .support import OKX_REDIRECT, authorize_code, okx_request

pytestmark = pytest.mark.django_db(transaction=True)
GOOD_PASSPHRASE = "Sandbox#Pass1"


@pytest.fixture
def okx_tokens(base, accounts, clients):
    def connect(scope="read_only,trade,fast_api", account="trader"):
        user = accounts["okx"][account]
        url = requests.Request("GET", f"{base}/okx/account/oauth/authorize", params={
            "response_type": "code", "access_type": "offline", "client_id": "okx-broker", "redirect_uri": OKX_REDIRECT,
            "scope": scope, "state": "o"}).prepare().url
        code = authorize_code(url, user["email"], user["password"])["code"]
        return requests.post(f"{base}/okx/v5/users/oauth/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": "okx-broker",
            "client_secret": "okx-secret"}).json()

    return connect


def create_key(base, tokens, **body):
    return requests.post(f"{base}/okx/api/v5/users/oauth/apikey", headers={"Authorization": f"Bearer {tokens['access_token']}"},
                         json={"label": "broker", "passphrase": GOOD_PASSPHRASE, "perm": "read_only", **body})


def test_fast_api_key_rules(base, okx_tokens):
    tokens = okx_tokens()
    for weak in ["Sh1!abc", "alllowercase1!", "NoDigits!!", "NoSpecial123", "x" * 40]:
        response = create_key(base, tokens, passphrase=weak)
        assert response.json()["code"] == "51000", weak
    created = create_key(base, tokens, perm="read_only,trade").json()
    assert created["code"] == "0"
    key = created["data"][0]
    assert set(key) >= {"label", "apiKey", "secretKey", "passphrase", "perm"} and key["perm"] == "read_only,trade"
    assert create_key(base, tokens).json()["code"] == "53018"  # one active key per user per application
    deleted = requests.post(f"{base}/okx/api/v5/users/oauth/delete-apikey", json={"apiKey": key["apiKey"]},
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert deleted.json()["code"] == "0"
    assert create_key(base, tokens).json()["code"] == "0"


def test_fast_api_needs_the_scope(base, okx_tokens):
    assert create_key(base, okx_tokens(scope="read_only")).json()["code"] == "53017"
    assert create_key(base, okx_tokens(scope="read_only,fast_api"), perm="trade").json()["code"] == "51000"


def test_expired_access_token(base, okx_tokens):
    tokens = okx_tokens()
    requests.post(f"{base}/control/clock", json={"offset_seconds": 3601})
    assert create_key(base, tokens).json()["code"] == "53002"


def test_signed_rest_and_pagination(base, okx_tokens):
    key = create_key(base, okx_tokens()).json()["data"][0]
    api = base + "/okx"
    balance = okx_request(api, key, "GET", "/api/v5/account/balance?ccy=BTC").json()
    assert balance["code"] == "0" and balance["data"][0]["details"][0]["availBal"] == "1.5"
    assert okx_request(api, key, "GET", "/api/v5/account/balance", **{"OK-ACCESS-SIGN": "x"}).json()["code"] == "50113"
    assert okx_request(api, key, "GET", "/api/v5/account/balance", **{"OK-ACCESS-PASSPHRASE": "x"}).json()["code"] == "50105"
    assert okx_request(api, key, "GET", "/api/v5/account/balance", **{"OK-ACCESS-KEY": "x"}).json()["code"] == "50111"
    old = datetime.now(timezone.utc) - timedelta(seconds=40)
    assert okx_request(api, key, "GET", "/api/v5/account/balance", when=old).json()["code"] == "50102"
    bad_format = okx_request(api, key, "GET", "/api/v5/account/balance", **{"OK-ACCESS-TIMESTAMP": "1700000000000"})
    assert bad_format.json()["code"] == "50112"
    currencies = okx_request(api, key, "GET", "/api/v5/asset/currencies").json()["data"]
    assert {"ccy": "USDT", "chain": "USDT-TRC20"}.items() <= next(c for c in currencies if c["chain"] == "USDT-TRC20").items()
    assert requests.get(api + "/api/v5/market/ticker?instId=BTC-USDT").json()["data"][0]["last"] == "65000"
    assert okx_request(api, key, "GET", "/api/v5/trade/fills-history").json()["code"] == "51000"  # instType required
    first = okx_request(api, key, "GET", "/api/v5/trade/fills-history?instType=SPOT&limit=20").json()["data"]
    rest = okx_request(api, key, "GET", f"/api/v5/trade/fills-history?instType=SPOT&after={first[-1]['billId']}").json()["data"]
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
