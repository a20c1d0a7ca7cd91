"""Kraken Fast API keys and /0/private calls."""

from decimal import Decimal

import pytest
import requests

from sandbox.models import Balance

from .support import KRAKEN_REDIRECT, authorize_code, kraken_private
from .test_oauth import basic, kraken_url

pytestmark = pytest.mark.django_db(transaction=True)
ALL_FUNDS = "account.fast-api-key:write account.fast-api-key:funds-query account.fast-api-key:funds-withdraw " \
            "account.fast-api-key:ledger-query account.fast-api-key:trades-query-closed"


@pytest.fixture
def kraken_token(base, accounts, clients):
    def connect(scope=ALL_FUNDS, account="trader"):
        user = accounts["kraken"][account]
        code = authorize_code(kraken_url(base, scope=scope), user["email"], user["password"])["code"]
        return requests.post(f"{base}/kraken/oauth/token", headers=basic("kraken-broker", "kraken-secret"), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": KRAKEN_REDIRECT}).json()["access_token"]

    return connect


def create_key(base, access_token, name="broker-key", **permissions):
    body = {"api_key_name": name, "ip_allowlist": [], "nonce_window": 0,
            "permissions": permissions or {"funds_query": True, "funds_withdraw": True, "ledger_query": True,
                                           "trades_query_closed": True},
            "query_from": None, "query_to": None, "valid_until": None}
    return requests.post(f"{base}/kraken/oauth/fast-api-key", json=body, headers={"Authorization": f"Bearer {access_token}"})


def test_fast_api_key_needs_scopes(base, kraken_token):
    narrow = kraken_token(scope="account.fast-api-key:funds-query")
    assert create_key(base, narrow).json()["error"] == ["EOAuth:Insufficient scope"]
    token = kraken_token(scope="account.fast-api-key:write account.fast-api-key:funds-query")
    assert create_key(base, token, funds_withdraw=True).json()["error"] == ["EGeneral:Permission denied"]
    created = create_key(base, token, funds_query=True).json()
    assert created["error"] == [] and set(created["result"]) == {"id", "api_key", "secret"}
    deleted = requests.delete(f"{base}/kraken/oauth/fast-api-key/{created['result']['id']}",
                              headers={"Authorization": f"Bearer {token}"})
    assert deleted.json()["error"] == []
    assert kraken_private(base + "/kraken", created["result"], "Balance").json()["error"] == ["EAPI:Invalid key"]


def test_private_calls_signature_nonce_permissions(base, kraken_token):
    key = create_key(base, kraken_token()).json()["result"]
    api = base + "/kraken"
    balance = kraken_private(api, key, "Balance", nonce=1000).json()
    assert balance == {"error": [], "result": {"SOL": "300", "USDT": "25000", "XETH": "20", "XXBT": "1.5"}}
    assert kraken_private(api, key, "Balance", nonce=1000).json()["error"] == ["EAPI:Invalid nonce"]
    assert kraken_private(api, key, "Balance", nonce=999).json()["error"] == ["EAPI:Invalid nonce"]
    wrong = kraken_private(api, key, "Balance", nonce=1001, sign_secret="AAAA" * 16)
    assert wrong.json() == {"error": ["EAPI:Invalid signature"], "result": {}}
    assert kraken_private(api, key, "DepositStatus", nonce=1002).json()["error"] == []
    ledgers = kraken_private(api, key, "Ledgers", nonce=1003).json()["result"]
    assert ledgers["count"] == 30 and len(ledgers["ledger"]) == 30
    trades = kraken_private(api, key, "TradesHistory", {"ofs": 20}, nonce=1004).json()["result"]
    assert trades["count"] == 30 and len(trades["trades"]) == 10
    read_only = create_key(base, kraken_token(), name="read-only", funds_query=True)
    assert kraken_private(api, read_only.json()["result"], "Ledgers").json()["error"] == ["EGeneral:Permission denied"]


def test_withdraw_by_address_key(base, accounts, kraken_token):
    key = create_key(base, kraken_token()).json()["result"]
    api = base + "/kraken"
    assert kraken_private(api, key, "Withdraw", {"asset": "XBT", "key": "nope", "amount": "0.1"}).json()["error"] == [
        "EFunding:Unknown withdraw key"]
    info = kraken_private(api, key, "WithdrawInfo", {"asset": "XBT", "key": "my-btc", "amount": "0.1"}).json()["result"]
    assert info["fee"] == "0.0005" and info["amount"] == "0.0995"
    done = kraken_private(api, key, "Withdraw", {"asset": "XBT", "key": "my-btc", "amount": "0.1"}).json()
    assert done["error"] == [] and done["result"]["refid"]
    assert Balance.objects.get(user__email=accounts["kraken"]["trader"]["email"], currency="BTC").available == Decimal("1.4")
    status = kraken_private(api, key, "WithdrawStatus", {"asset": "XBT"}).json()["result"]
    assert status[0]["refid"] == done["result"]["refid"] and status[0]["status"] == "Pending"
    too_much = kraken_private(api, key, "Withdraw", {"asset": "XBT", "key": "my-btc", "amount": "5"}).json()
    assert too_much["error"] == ["EFunding:Insufficient funds"]


def test_public_endpoints(base, transactional_db):
    ticker = requests.get(base + "/kraken/0/public/Ticker?pair=XBTUSDT").json()
    assert ticker["error"] == [] and ticker["result"]["XBTUSDT"]["c"][0] == "65000"
    assert "XXBT" in requests.get(base + "/kraken/0/public/Assets").json()["result"]
