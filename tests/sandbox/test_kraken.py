"""Kraken Fast API keys and /0/private calls."""

from decimal import Decimal

import pytest
import requests

from sandbox import clock
from sandbox.models import Balance, HistoryRecord

from .support import authorize_code, kraken_private, kraken_url, query_of, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def create_key(base, access_token, name="broker-key", **permissions):
    body = {
        "api_key_name": name,
        "ip_allowlist": [],
        "nonce_window": 0,
        "permissions": permissions
        or {"funds_query": True, "funds_withdraw": True, "ledger_query": True, "trades_query_closed": True},
        "query_from": None,
        "query_to": None,
        "valid_until": None,
    }
    return requests.post(
        f"{base}/kraken/oauth/fast-api-key", json=body, headers={"Authorization": f"Bearer {access_token}"}
    )


def bearer(access_token):
    return {"Authorization": f"Bearer {access_token}"}


def test_fast_api_key_needs_scopes(base, kraken_token):
    narrow = kraken_token(scope="account.fast-api-key:funds-query")
    assert create_key(base, narrow).json()["error"] == ["EOAuth:Insufficient scope"]
    token = kraken_token(scope="account.fast-api-key:write account.fast-api-key:funds-query")
    assert create_key(base, token, funds_withdraw=True).json()["error"] == ["EGeneral:Permission denied"]
    created = create_key(base, token, funds_query=True).json()
    # openapi_v3.yaml createFastAPIKey: result{secret, ...APIKeyInfo} (the old reading had only id, api_key, secret)
    assert created["error"] == []
    assert {"id", "api_key", "secret", "api_key_name", "permissions"} <= set(created["result"])
    assert created["result"]["api_key_name"] == "broker-key" and created["result"]["permissions"]["funds_query"] is True
    # The old reading deleted by id in the path; the spec's only delete takes {api_key_name} as JSON.
    deleted = requests.delete(
        f"{base}/kraken/oauth/fast-api-key", json={"api_key_name": "broker-key"}, headers=bearer(token)
    )
    assert deleted.json() == {"error": [], "result": True}
    assert kraken_private(base + "/kraken", created["result"], "Balance").json()["error"] == ["EAPI:Invalid key"]


def test_fast_api_key_is_one_collection_create_list_update_delete_by_name(base, kraken_token):
    token = kraken_token(scope="account.fast-api-key:write account.fast-api-key:read account.fast-api-key:funds-query")
    key = create_key(base, token, funds_query=True).json()["result"]
    # The id is the name in Kraken's modified base64 ('_' and ',' for '+' and '/', '-' for padding).
    assert key["id"] == "YnJva2VyLWtleQ--"
    listed = requests.get(f"{base}/kraken/oauth/fast-api-key", headers=bearer(token)).json()
    assert listed["error"] == [] and [item["api_key_name"] for item in listed["result"]] == ["broker-key"]
    assert "api_key" not in listed["result"][0] and "secret" not in listed["result"][0]  # "only returned once"
    renamed = requests.put(
        f"{base}/kraken/oauth/fast-api-key",
        headers=bearer(token),
        json={"api_key_name": "broker-key", "new_api_key_name": "renamed", "nonce_window": 5},
    )
    assert renamed.json() == {"error": [], "result": True}
    listed = requests.get(f"{base}/kraken/oauth/fast-api-key", headers=bearer(token)).json()["result"]
    assert [(item["api_key_name"], item["nonce_window"]) for item in listed] == [("renamed", 5)]
    # Listing needs the read scope, the other three the write scope.
    write_only = kraken_token(scope="account.fast-api-key:write account.fast-api-key:funds-query")
    assert requests.get(f"{base}/kraken/oauth/fast-api-key", headers=bearer(write_only)).json()["error"] == [
        "EOAuth:Insufficient scope"
    ]
    gone = requests.delete(f"{base}/kraken/oauth/fast-api-key", json={"api_key_name": "renamed"}, headers=bearer(token))
    assert gone.json()["result"] is True
    assert requests.get(f"{base}/kraken/oauth/fast-api-key", headers=bearer(token)).json()["result"] == []
    again = requests.delete(
        f"{base}/kraken/oauth/fast-api-key", json={"api_key_name": "renamed"}, headers=bearer(token)
    )
    assert again.json()["error"] == ["EGeneral:Invalid arguments:api_key_name"]


def test_delete_by_id_or_by_form_is_refused_and_the_key_stays_live(base, kraken_token):
    token = kraken_token()
    key = create_key(base, token).json()["result"]
    by_id = requests.delete(f"{base}/kraken/oauth/fast-api-key/{key['id']}", headers=bearer(token))
    assert by_id.status_code == 404  # no such path in openapi_v3.yaml
    by_form = requests.delete(
        f"{base}/kraken/oauth/fast-api-key", data={"api_key_name": "broker-key"}, headers=bearer(token)
    )
    assert by_form.json()["error"] == ["EGeneral:Invalid arguments"]  # the request body is application/json
    patch = requests.patch(
        f"{base}/kraken/oauth/fast-api-key", json={"api_key_name": "broker-key"}, headers=bearer(token)
    )
    assert patch.status_code == 405
    assert kraken_private(base + "/kraken", key, "Balance").json()["error"] == []


def test_userinfo_needs_account_info_basic(base, kraken_token, accounts):
    granted = kraken_token(scope="account.info:basic account.fast-api-key:write")
    answer = requests.get(f"{base}/kraken/oauth/userinfo", headers=bearer(granted)).json()
    assert answer["error"] == [] and answer["result"]["email"] == accounts["kraken"]["trader"]["email"]
    other = requests.get(
        f"{base}/kraken/oauth/userinfo", headers=bearer(kraken_token(scope="account.info:basic", account="whitelist"))
    ).json()
    assert answer["result"]["iban"] and other["result"]["iban"] != answer["result"]["iban"]
    # The same account's identifier does not change from one authorization to the next.
    again = requests.get(f"{base}/kraken/oauth/userinfo", headers=bearer(kraken_token(scope="account.info:basic")))
    assert again.json()["result"]["iban"] == answer["result"]["iban"]
    without = requests.get(
        f"{base}/kraken/oauth/userinfo", headers=bearer(kraken_token(scope="account.fast-api-key:write"))
    )
    assert without.json()["error"] == ["EOAuth:Insufficient scope"]
    assert requests.get(f"{base}/kraken/oauth/userinfo").json()["error"] == ["EOAuth:Invalid token (unknown)"]


def test_authorize_in_kraken_languages_and_errors_back_to_the_redirect_uri(base, accounts, clients):
    user = accounts["kraken"]["trader"]
    localized = kraken_url(base).replace("/kraken/oauth/authorize", "/kraken/de/oauth/authorize")
    assert authorize_code(localized, user["email"], user["password"])["state"] == "k1"
    assert requests.get(kraken_url(base).replace("/oauth/authorize", "/es-es/oauth/authorize")).status_code == 200
    assert requests.get(kraken_url(base).replace("/oauth/authorize", "/ja/oauth/authorize")).status_code == 404
    # An unknown scope goes back to the registered redirect URI as RFC 6749 says (the old reading: a 400 page).
    unknown = requests.get(kraken_url(base, scope="account.fast-api-key:everything"), allow_redirects=False)
    assert unknown.status_code == 302 and query_of(unknown.headers["Location"]) == {
        "error": "invalid_scope",
        "state": "k1",
    }
    # Scopes the spec does not list (its withdrawal-address scopes are commented out) are unknown.
    for unlisted in ("account.fast-api-key:withdrawal-address-add", "account.info:name"):
        refused = requests.get(kraken_url(base, scope=unlisted), allow_redirects=False)
        assert query_of(refused.headers["Location"])["error"] == "invalid_scope"
    # "If empty, all scopes registered for your Client ID will be requested."
    page = requests.Session()
    everything = kraken_url(base, scope="")
    signed = sign_in(page, everything, user["email"], user["password"])
    assert signed.status_code == 302
    assert 'value="account.info:basic"' in page.get(everything).text


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
        "EFunding:Unknown withdraw key"
    ]
    info = kraken_private(api, key, "WithdrawInfo", {"asset": "XBT", "key": "my-btc", "amount": "0.1"}).json()["result"]
    assert info["fee"] == "0.0005" and info["amount"] == "0.0995"
    done = kraken_private(api, key, "Withdraw", {"asset": "XBT", "key": "my-btc", "amount": "0.1"}).json()
    assert done["error"] == [] and done["result"]["refid"]
    assert Balance.objects.get(user__email=accounts["kraken"]["trader"]["email"], currency="BTC").available == Decimal(
        "1.4"
    )
    status = kraken_private(api, key, "WithdrawStatus", {"asset": "XBT"}).json()["result"]
    # The spec's statuses: Initial, Pending, Settled, then Success (the old reading answered only Pending, Success).
    assert status[0]["refid"] == done["result"]["refid"] and status[0]["status"] == "Initial"
    seen = []
    for offset in (11, 21, 31):
        clock.set_offset(offset)
        seen.append(kraken_private(api, key, "WithdrawStatus", {"asset": "XBT"}).json()["result"][0]["status"])
    clock.set_offset(0)
    assert seen == ["Pending", "Settled", "Success"]
    too_much = kraken_private(api, key, "Withdraw", {"asset": "XBT", "key": "my-btc", "amount": "5"}).json()
    assert too_much["error"] == ["EFunding:Insufficient funds"]


def test_a_cancelled_withdrawal_is_a_status_property_not_a_status(base, kraken_token):
    key = create_key(base, kraken_token()).json()["result"]
    api = base + "/kraken"
    withdraw = {"asset": "XBT", "key": "my-btc", "amount": "0.1"}
    refid = kraken_private(api, key, "Withdraw", withdraw).json()["result"]["refid"]
    HistoryRecord.objects.filter(txid=refid).update(status="CANCELED")
    entry = kraken_private(api, key, "WithdrawStatus", {"asset": "XBT"}).json()["result"][0]
    assert (
        entry["status"] in {"Initial", "Pending", "Settled", "Success", "Failure"}
        and entry["status-prop"] == "canceled"
    )


def test_public_endpoints(base, transactional_db):
    ticker = requests.get(base + "/kraken/0/public/Ticker?pair=XBTUSDT").json()
    assert ticker["error"] == [] and ticker["result"]["XBTUSDT"]["c"][0] == "65000"
    assert "XXBT" in requests.get(base + "/kraken/0/public/Assets").json()["result"]
