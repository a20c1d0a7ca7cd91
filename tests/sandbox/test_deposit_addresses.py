"""Deposit addresses on the sandbox, per exchange as its own material describes them: KuCoin's V3 get and create
(General permission), OKX's one read (an address on every chain), Kraken's DepositMethods and DepositAddresses
(``new``), Peatio's deposit_address (a JSON string, empty while the address is generated)."""

import json
from decimal import Decimal

import pytest
import requests

from sandbox.exchanges import KUCOIN_AUTH_GROUPS

from .support import kraken_private, okx_request, peatio_get
from .test_kraken import create_key as kraken_key_create
from .test_kucoin import call as kucoin_call
from .test_okx import create_key as okx_key_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_kucoin_lists_none_until_one_is_created_then_that_one(base, kucoin_key):
    key = kucoin_key(groups=["API_COMMON"])
    empty = kucoin_call(base, key, "GET", "/api/v3/deposit-addresses?currency=USDT&chain=trx").json()
    assert empty == {"code": "200000", "data": []}
    created = kucoin_call(
        base, key, "POST", "/api/v3/deposit-address/create", body={"currency": "USDT", "chain": "trx"}
    ).json()
    assert created["code"] == "200000"
    assert {"address", "memo", "chainId", "to", "expirationDate", "currency", "chainName"} == set(created["data"])
    assert created["data"]["chainId"] == "trx" and created["data"]["to"] == "MAIN" and created["data"]["memo"] == ""
    assert created["data"]["address"].startswith("T")
    listed = kucoin_call(base, key, "GET", "/api/v3/deposit-addresses?currency=USDT").json()["data"]
    assert [item["address"] for item in listed] == [created["data"]["address"]]
    assert listed[0]["contractAddress"] == "" and listed[0]["chainName"] == "TRC20"
    again = kucoin_call(base, key, "POST", "/api/v3/deposit-address/create", body={"currency": "USDT", "chain": "trx"})
    assert again.json()["code"] == "400100"


def test_kucoin_memo_chain_unknown_values_and_the_general_permission(base, kucoin_key):
    key = kucoin_key(groups=["API_COMMON"])
    ton = kucoin_call(
        base, key, "POST", "/api/v3/deposit-address/create", body={"currency": "USDT", "chain": "ton", "to": "trade"}
    ).json()["data"]
    assert ton["memo"].isdigit() and ton["to"] == "TRADE"
    assert kucoin_call(base, key, "GET", "/api/v3/deposit-addresses").json()["code"] == "400100"
    assert kucoin_call(base, key, "GET", "/api/v3/deposit-addresses?currency=NOPE").json()["code"] == "900003"
    assert kucoin_call(base, key, "GET", "/api/v3/deposit-addresses?currency=BTC&chain=trx").json()["code"] == "400100"
    assert (
        kucoin_call(base, key, "POST", "/api/v3/deposit-address/create", body={"currency": "BTC"}).json()["code"]
        == "400100"
    )  # chain is required
    chains = kucoin_call(base, key, "GET", "/api/v3/currencies/USDT").json()["data"]["chains"]
    assert {chain["chainId"]: (chain["depositMinSize"], chain["needTag"]) for chain in chains} == {
        "trx": ("1", False),
        "eth": ("5", False),
        "ton": ("1", True),
    }


def test_kucoin_refuses_a_key_without_general(base, kucoin_key):
    key = kucoin_key(groups=[group for group in KUCOIN_AUTH_GROUPS if group != "API_COMMON"])
    refused = kucoin_call(base, key, "GET", "/api/v3/deposit-addresses?currency=BTC")
    assert refused.status_code == 403 and refused.json()["code"] == "400007"
    refused = kucoin_call(base, key, "POST", "/api/v3/deposit-address/create", body={"currency": "BTC", "chain": "btc"})
    assert refused.json()["code"] == "400007"


def test_okx_has_an_address_on_every_chain_and_no_create(base, okx_tokens):  # noqa: F811
    key = okx_key_create(base, okx_tokens()).json()["data"][0]
    api = base + "/okx"
    first = okx_request(api, key, "GET", "/api/v5/asset/deposit-address?ccy=USDT").json()
    assert first["code"] == "0"
    by_chain = {item["chain"]: item for item in first["data"]}
    assert set(by_chain) == {"USDT-TRC20", "USDT-ERC20", "USDT-TON"}
    assert by_chain["USDT-TRC20"]["selected"] is True and by_chain["USDT-TRC20"]["to"] == "6"
    assert "memo" not in by_chain["USDT-TRC20"] and by_chain["USDT-TON"]["memo"].isdigit()
    again = okx_request(api, key, "GET", "/api/v5/asset/deposit-address?ccy=USDT").json()["data"]
    assert [item["addr"] for item in again] == [item["addr"] for item in first["data"]]  # the same, not new ones
    assert okx_request(api, key, "GET", "/api/v5/asset/deposit-address").json()["code"] == "51000"
    assert okx_request(api, key, "GET", "/api/v5/asset/deposit-address?ccy=NOPE").json()["code"] == "51000"
    currencies = okx_request(api, key, "GET", "/api/v5/asset/currencies?ccy=USDT").json()["data"]
    assert {item["chain"]: item["minDep"] for item in currencies} == {
        "USDT-TRC20": "1",
        "USDT-ERC20": "5",
        "USDT-TON": "1",
    }


def test_kraken_methods_need_deposit_permission_and_addresses_are_made_with_new(base, kraken_token):  # noqa: F811
    token = kraken_token(
        scope="account.fast-api-key:write account.fast-api-key:funds-query account.fast-api-key:funds-add"
    )
    key = kraken_key_create(base, token, funds_query=True, funds_add=True).json()["result"]
    methods = kraken_private(base + "/kraken", key, "DepositMethods", {"asset": "USDT"}).json()
    assert methods["error"] == []
    assert [(m["method"], m["minimum"], m["gen-address"]) for m in methods["result"]] == [
        ("Tether (TRC20)", "1", True),
        ("Tether (ERC20)", "5", True),
        ("Tether (TON)", "1", True),
    ]
    btc = kraken_private(base + "/kraken", key, "DepositMethods", {"asset": "XBT"}).json()["result"]
    assert [m["method"] for m in btc] == ["Bitcoin"]
    none = kraken_private(base + "/kraken", key, "DepositAddresses", {"asset": "XBT", "method": "Bitcoin"}).json()
    assert none == {"error": [], "result": []}
    made = kraken_private(
        base + "/kraken", key, "DepositAddresses", {"asset": "XBT", "method": "Bitcoin", "new": "true"}
    ).json()["result"]
    assert len(made) == 1 and made[0]["expiretm"] == "0" and made[0]["address"].startswith("bc1q")
    second = kraken_private(
        base + "/kraken", key, "DepositAddresses", {"asset": "XBT", "method": "Bitcoin", "new": "true"}
    ).json()["result"]
    assert len(second) == 2 and second[1] == made[0]  # newest first
    ton = kraken_private(
        base + "/kraken", key, "DepositAddresses", {"asset": "USDT", "method": "Tether (TON)", "new": "true"}
    ).json()["result"]
    assert ton[0]["memo"].isdigit()
    unknown = kraken_private(base + "/kraken", key, "DepositAddresses", {"asset": "XBT", "method": "Lightning"})
    assert unknown.json()["error"] == ["EFunding:Invalid method"]
    assert kraken_private(base + "/kraken", key, "DepositMethods", {"asset": "NOPE"}).json()["error"] == [
        "EFunding:Unknown asset"
    ]


def test_kraken_without_deposit_reads_addresses_but_not_methods(base, kraken_token):  # noqa: F811
    token = kraken_token(scope="account.fast-api-key:write account.fast-api-key:funds-query")
    key = kraken_key_create(base, token, funds_query=True).json()["result"]
    refused = kraken_private(base + "/kraken", key, "DepositMethods", {"asset": "XBT"}).json()
    assert refused["error"] == ["EGeneral:Permission denied"]
    # DepositAddresses needs "Funds permissions - Query" only (spot-rest openapi_v3.yaml).
    listed = kraken_private(base + "/kraken", key, "DepositAddresses", {"asset": "XBT", "method": "Bitcoin"}).json()
    assert listed == {"error": [], "result": []}


def test_peatio_answers_a_json_string_and_the_address_after_it_was_generated(base, peatio_token):  # noqa: F811
    access_key, secret_key = peatio_token()["access_token"].split(":")
    api = base + "/peatio"
    first = peatio_get(api, access_key, secret_key, "/api/v2/deposit_address", {"currency": "btc"})
    assert first.status_code == 200 and isinstance(first.json(), str)
    assert json.loads(first.json())["deposit_address"] is None  # still being generated
    second = json.loads(peatio_get(api, access_key, secret_key, "/api/v2/deposit_address", {"currency": "btc"}).json())
    assert second["deposit_address"].startswith("bc1q") and isinstance(second["account_id"], int)
    third = json.loads(peatio_get(api, access_key, secret_key, "/api/v2/deposit_address", {"currency": "btc"}).json())
    assert third == second
    upper = peatio_get(api, access_key, secret_key, "/api/v2/deposit_address", {"currency": "BTC"})
    assert upper.status_code == 400 and upper.json()["error"]["code"] == 1001
    assert peatio_get(api, access_key, secret_key, "/api/v2/deposit_address").json()["error"]["code"] == 1001


def test_a_deposit_credited_to_an_address_is_in_the_balance_and_the_deposit_history(base, kucoin_key):
    key = kucoin_key(groups=["API_COMMON"])
    ton = kucoin_call(
        base, key, "POST", "/api/v3/deposit-address/create", body={"currency": "USDT", "chain": "ton"}
    ).json()["data"]
    # On a memo chain the address is the exchange's hot wallet: without the account's memo nobody is credited.
    refused = requests.post(
        f"{base}/control/deposits",
        timeout=10,
        json={"exchange": "kucoin", "address": ton["address"], "amount": "3", "memo": "1"},
    )
    assert refused.status_code == 400 and "no account" in refused.json()["error"]
    for amount in ("0", "-1", "abc"):
        bad = requests.post(
            f"{base}/control/deposits",
            timeout=10,
            json={"exchange": "kucoin", "address": ton["address"], "amount": amount},
        )
        assert bad.status_code == 400
    assert (
        requests.post(
            f"{base}/control/deposits",
            timeout=10,
            json={"exchange": "okx", "address": ton["address"], "amount": "3", "memo": ton["memo"]},
        ).status_code
        == 400
    )
    before = {
        item["currency"]: item["available"]
        for item in kucoin_call(base, key, "GET", "/api/v1/accounts?type=main").json()["data"]
    }.get("USDT", "0")
    credited = requests.post(
        f"{base}/control/deposits",
        timeout=10,
        json={
            "exchange": "kucoin",
            "address": ton["address"],
            "amount": "3.25",
            "memo": ton["memo"],
            "txid": "0xbroker1",
        },
    )
    assert credited.status_code == 201 and credited.json()["txid"] == "0xbroker1"
    listed = kucoin_call(base, key, "GET", "/api/v1/deposits?currency=USDT").json()["data"]["items"]
    deposit = next(item for item in listed if item["walletTxId"] == "0xbroker1")
    assert (deposit["amount"], deposit["status"], deposit["address"], deposit["memo"]) == (
        "3.25",
        "SUCCESS",
        ton["address"],
        ton["memo"],
    )
    after = {
        item["currency"]: item["available"]
        for item in kucoin_call(base, key, "GET", "/api/v1/accounts?type=main").json()["data"]
    }["USDT"]
    assert Decimal(after) - Decimal(before) == Decimal("3.25")
