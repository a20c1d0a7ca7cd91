"""KuCoin Fast API keys, signed REST, broker headers, and the 2FA withdrawal with fees and limits."""

import time
from decimal import Decimal

import pytest
import requests

from sandbox.models import Balance, HistoryRecord

from .support import KUCOIN_REDIRECT, kucoin_request, sign_in, totp_now, csrf_token

pytestmark = pytest.mark.django_db(transaction=True)
ADD_KEY = "/kucoin/_oauth/resource/ucenter/outer/api-key/add"


def call(base, key, method, path, body=None, **headers):
    return kucoin_request(base + "/kucoin", key, "kc-secret", method, path, body=body, **headers)


def test_api_key_add_envelope_limits_and_repeated_name(base, kucoin_tokens):
    tokens = kucoin_tokens()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    body = {"authGroupMap": {"API_COMMON": True, "API_SPOT": True, "API_WITHDRAW_OAUTH": False}, "isAddressbookOnly": False}
    first = requests.post(base + ADD_KEY, headers=auth, json={**body, "apiName": "one"}).json()
    assert first["success"] is True and first["code"] == "200" and first["retry"] is False
    data = first["data"]
    assert set(data) == {"apiName", "apiKey", "secret", "passphrase", "brokerId", "authGroup", "ipWhiteList"}
    assert data["authGroup"] == "API_COMMON,API_SPOT," and data["brokerId"] == "kc-broker"
    repeated = requests.post(base + ADD_KEY, headers=auth, json={**body, "apiName": "one"}).json()
    assert repeated["success"] is False and repeated["msg"] == "Repeated apiName"
    for _ in range(4):
        assert requests.post(base + ADD_KEY, headers=auth, json=body).json()["success"] is True
    full = requests.post(base + ADD_KEY, headers=auth, json=body).json()
    assert full["success"] is False and full["msg"] == "The number of user's apiKey reaches to the maximum level"


def test_api_key_add_refuses_groups_the_user_did_not_grant(base, kucoin_tokens):
    tokens = kucoin_tokens(groups=["API_COMMON", "API_SPOT"])
    response = requests.post(base + ADD_KEY, headers={"Authorization": f"Bearer {tokens['access_token']}"},
                             json={"authGroupMap": {"API_COMMON": True, "API_WITHDRAW_OAUTH": True}})
    assert response.json()["success"] is False and "API_WITHDRAW_OAUTH" in response.json()["msg"]


def test_signed_requests_are_checked_strictly(base, kucoin_key):
    key = kucoin_key()
    ok = call(base, key, "GET", "/api/v1/accounts?currency=BTC")
    assert ok.status_code == 200 and ok.json()["data"][0]["balance"] == "1.5"
    assert call(base, key, "GET", "/api/v1/accounts", **{"KC-API-SIGN": "bad"}).json()["code"] == "400005"
    assert call(base, key, "GET", "/api/v1/accounts", **{"KC-API-KEY": "nope"}).json()["code"] == "400003"
    stale = kucoin_request(base + "/kucoin", key, "kc-secret", "GET", "/api/v1/accounts", ts_ms=int(time.time() * 1000) - 6000)
    assert stale.json()["code"] == "400002"
    plain_passphrase = call(base, key, "GET", "/api/v1/accounts", **{"KC-API-PASSPHRASE": key["passphrase"]})
    assert plain_passphrase.json()["code"] == "400004"
    wrong_version = call(base, key, "GET", "/api/v1/accounts", **{"KC-API-KEY-VERSION": "2"})
    assert wrong_version.json()["code"] == "400004"
    bad_partner = call(base, key, "GET", "/api/v1/accounts", **{"KC-API-PARTNER-SIGN": "bad"})
    assert bad_partner.json() == {"code": "400201", "msg": "Invalid KC-API-PARTNER-SIGN"}
    not_verified = call(base, key, "GET", "/api/v1/accounts", **{"KC-API-PARTNER-VERIFY": "false"})
    assert not_verified.json()["code"] == "400201"
    wrong_broker_key = kucoin_request(base + "/kucoin", key, "other-secret", "GET", "/api/v1/accounts")
    assert wrong_broker_key.json()["code"] == "400201"


def test_bearer_token_works_on_rest(base, kucoin_tokens):
    tokens = kucoin_tokens()
    response = requests.get(base + "/kucoin/api/v1/accounts", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.json()["code"] == "200000" and len(response.json()["data"]) == 4


def test_public_market_data(base, clients):
    btc = requests.get(base + "/kucoin/api/v3/currencies/BTC").json()["data"]
    assert btc["chains"][0]["chainId"] == "btc" and btc["chains"][0]["withdrawalMinFee"] == "0.0005"
    assert btc["chains"][0]["withdrawPrecision"] == 8
    assert requests.get(base + "/kucoin/api/v1/prices").json()["data"]["BTC"] == "65000"
    level1 = requests.get(base + "/kucoin/api/v1/market/orderbook/level1?symbol=ETH-USDT").json()["data"]
    assert Decimal(level1["price"]) == Decimal("3200")


def test_history_pagination(base, kucoin_key):
    """Pages within a range; the ranges themselves (a week of fills, a day of ledgers) are in test_history.py.
    The old reading (all history in one range, currency optional) was not KuCoin's."""
    key = kucoin_key()
    pages = [call(base, key, "GET", f"/api/v1/withdrawals?currency=BTC&currentPage={page}&pageSize=10").json()["data"]
             for page in (1, 2)]
    total = HistoryRecord.objects.filter(user__email="trader@kucoin.sandbox", kind="withdrawal", currency="BTC").count()
    assert pages[0]["totalNum"] == total and pages[0]["totalPage"] == -(-total // 10)
    assert len(pages[0]["items"]) == min(total, 10) and len(pages[1]["items"]) == max(0, min(total - 10, 10))
    ids = [item["id"] for page in pages for item in page["items"]]
    assert len(set(ids)) == min(total, 20)


def withdraw(base, key, body):
    return call(base, key, "POST", "/api/v3/withdrawals", body=body)


def latest_code(base, email):
    return requests.get(base + "/inbox/", params={"format": "json", "email": email}).json()[0]["code"]


def two_step_withdraw(base, key, account, body):
    first = withdraw(base, key, body).json()
    assert first["code"] == "200000", first
    codes = {"GAV": totp_now(account["totp_secret"]), "EMV": latest_code(base, account["email"])}
    return withdraw(base, key, {"transactionId": first["data"]["transactionId"], "verifyCodes": codes})


def test_withdrawal_with_2fa_fees_on_the_ledger(base, accounts, kucoin_key):
    trader = accounts["kucoin"]["trader"]
    key = kucoin_key()
    body = {"currency": "USDT", "toAddress": "TXsandboxAddress", "amount": "100", "withdrawType": "ADDRESS",
            "chain": "trx", "feeDeductType": "INTERNAL"}
    first = withdraw(base, key, body).json()
    assert first["data"]["allFactors"] == [["GAV", "EMV"]] and first["data"]["sentFactors"] == [["EMV"]]
    inbox_page = requests.get(base + "/inbox/")
    assert trader["email"] in inbox_page.text
    wrong = withdraw(base, key, {"transactionId": first["data"]["transactionId"],
                                 "verifyCodes": {"GAV": "000000", "EMV": latest_code(base, trader["email"])}})
    assert wrong.status_code == 400 and wrong.json()["code"] != "200000"
    codes = {"GAV": totp_now(trader["totp_secret"]), "EMV": latest_code(base, trader["email"])}
    done = withdraw(base, key, {"transactionId": first["data"]["transactionId"], "verifyCodes": codes}).json()
    assert done["code"] == "200000" and done["data"]["withdrawalId"]
    replay = withdraw(base, key, {"transactionId": first["data"]["transactionId"], "verifyCodes": codes})
    assert replay.json()["code"] != "200000"
    # INTERNAL: 100 sent, 1 USDT chain fee + 10 USDT OAuth fee (10%) on top.
    assert Balance.objects.get(user__email=trader["email"], currency="USDT").available == Decimal("25000") - 111
    detail = call(base, key, "GET", f"/api/v1/withdrawals/{done['data']['withdrawalId']}").json()["data"]
    assert detail["amount"] == "100" and detail["fee"] == "11" and detail["status"] == "PROCESSING"
    ledger = HistoryRecord.objects.filter(user__email=trader["email"], kind="ledger", synthetic=False).order_by("id")
    assert [entry.amount for entry in ledger] == [Decimal("-100"), Decimal("-1"), Decimal("-10")]
    assert ledger.last().balance_after == Decimal("24889")
    # EXTERNAL: fees out of the amount; 1000 USDT hits the 30 USDT cap.
    external = two_step_withdraw(base, key, trader, {**body, "amount": "1000", "feeDeductType": "EXTERNAL"}).json()
    record = HistoryRecord.objects.get(txid=external["data"]["withdrawalId"])
    assert record.amount == Decimal("969") and record.fee == Decimal("31")
    assert Balance.objects.get(user__email=trader["email"], currency="USDT").available == Decimal("23889")
    requests.post(base + "/control/clock", json={"offset_seconds": 60})
    assert call(base, key, "GET", f"/api/v1/withdrawals/{done['data']['withdrawalId']}").json()["data"]["status"] == "SUCCESS"


def test_withdrawal_checks(base, accounts, kucoin_key, kucoin_tokens):
    key = kucoin_key()
    body = {"currency": "BTC", "toAddress": "bc1sandbox", "amount": "0.0001", "withdrawType": "ADDRESS"}
    assert withdraw(base, key, body).json()["code"] == "400100"  # below the minimum size
    assert withdraw(base, key, {**body, "amount": "0.123456789"}).json()["code"] == "400100"  # precision
    assert withdraw(base, key, {**body, "amount": "100"}).json()["code"] == "200004"
    no_permission = kucoin_key(authGroupMap={"API_COMMON": True})
    assert withdraw(base, no_permission, {**body, "amount": "0.01"}).json()["code"] == "400007"


def test_withdrawal_whitelist_and_address_book(base, accounts, kucoin_key):
    account = accounts["kucoin"]["whitelist"]
    key = kucoin_key("whitelist")
    body = {"currency": "USDT", "toAddress": "TNotSaved", "amount": "50", "withdrawType": "ADDRESS", "chain": "trx"}
    assert withdraw(base, key, body).json()["code"] == "260325"
    saved = next(entry for entry in account["address_book"] if entry["currency"] == "USDT")
    assert withdraw(base, key, {**body, "toAddress": saved["address"]}).json()["code"] == "200000"


def test_withdrawal_without_2fa_links_to_security_setup_and_binding_redirects(base, accounts, kucoin_key):
    account = accounts["kucoin"]["no2fa"]
    key = kucoin_key("no2fa")
    response = withdraw(base, key, {"currency": "USDT", "toAddress": "T1", "amount": "50", "withdrawType": "ADDRESS"})
    message = response.json()["msg"]
    assert message.startswith("You need to bind more factors to continue this operation. Please visit the following link: ")
    link = message.rsplit(" ", 1)[1]
    assert link == base + "/kucoin/account/security/g2fa"
    session = requests.Session()
    setup_url = f"{link}?client_id=kc-broker&redirect_uri={requests.utils.quote(KUCOIN_REDIRECT, safe='')}"
    assert sign_in(session, setup_url, account["email"], account["password"]).status_code == 302
    page = session.get(setup_url)
    secret = page.text.split('id="totp-secret">')[1].split("<")[0]
    bound = session.post(setup_url, data={"csrfmiddlewaretoken": csrf_token(page.text), "action": "bind",
                                          "code": totp_now(secret)}, allow_redirects=False)
    assert bound.status_code == 302 and bound.headers["Location"] == KUCOIN_REDIRECT
    second = withdraw(base, key, {"currency": "USDT", "toAddress": "T1", "amount": "50", "withdrawType": "ADDRESS"})
    assert second.json()["code"] == "200000"
    elsewhere = session.get(f"{link}?client_id=kc-broker&redirect_uri=http://evil.test/", allow_redirects=False)
    assert elsewhere.status_code == 200 and 'id="back-to-broker"' not in elsewhere.text


def test_uid_withdrawals_are_rate_limited(base, accounts, kucoin_key):
    key = kucoin_key()
    body = {"currency": "USDT", "toAddress": "12345678", "amount": "10", "withdrawType": "UID"}
    for _ in range(3):
        assert withdraw(base, key, body).json()["code"] == "200000"
    limited = withdraw(base, key, body)
    assert limited.status_code == 429 and limited.json()["code"] == "429000" and int(limited.headers["Retry-After"]) >= 1
    # ADDRESS withdrawals do not count.
    assert withdraw(base, key, {**body, "withdrawType": "ADDRESS", "chain": "trx"}).json()["code"] == "200000"
    for step in range(1, 17):  # 11 s later each time: the 10 s window is open again, the 24 h one fills up
        requests.post(base + "/control/clock", json={"offset_seconds": 11 * step})
        for _ in range(3):
            withdraw(base, key, body)
    requests.post(base + "/control/clock", json={"offset_seconds": 11 * 20})
    assert withdraw(base, key, body).json()["code"] == "429000"  # 50 in 24 h
