"""KuCoin's two hosts, Fast API keys, signed REST, broker headers, and the 2FA withdrawal with fees and limits."""

import time
from decimal import Decimal

import pytest
import requests

from sandbox.exchanges import KUCOIN_AUTH_GROUPS
from sandbox.models import Balance, HistoryRecord

from .support import KUCOIN_REDIRECT, authorize_code, csrf_token, kucoin_request, sign_in, totp_now

pytestmark = pytest.mark.django_db(transaction=True)
# Key creation on the www host (Fast API document section 4): FastAPI 2.0 and the old partners' path.
ADD_KEY = "/kucoin-www/_oauth/resource/cyber-truck-vault/v2/outer/api-key/add"
ADD_KEY_V1 = "/kucoin-www/_oauth/resource/ucenter/outer/api-key/add"


def call(base, key, method, path, body=None, **headers):
    return kucoin_request(base + "/kucoin", key, "kc-secret", method, path, body=body, **headers)


def group_map(*groups):
    return {"authGroupMap": {group: group in groups for group in KUCOIN_AUTH_GROUPS}, "isAddressbookOnly": False}


def test_api_key_add_envelope_and_limit(base, kucoin_tokens):
    tokens = kucoin_tokens(groups=["API_COMMON", "API_SPOT"])
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    body = group_map("API_COMMON", "API_SPOT")
    first = requests.post(base + ADD_KEY, headers=auth, json=body).json()
    assert first["success"] is True and first["code"] == "200" and first["retry"] is False
    data = first["data"]
    assert set(data) == {"apiName", "apiKey", "secret", "passphrase", "brokerId", "authGroup", "ipWhiteList"}
    assert data["authGroup"] == "API_COMMON,API_SPOT," and data["brokerId"] == "kc-broker"
    for _ in range(4):
        assert requests.post(base + ADD_KEY, headers=auth, json=body).json()["success"] is True
    full = requests.post(base + ADD_KEY, headers=auth, json=body).json()
    assert full["success"] is False and full["msg"] == "The number of user's apiKey reaches to the maximum level"


def test_api_key_add_answers_40503_when_the_map_differs_from_the_approval(base, kucoin_tokens):
    # A public integration reports 40503 ("risk validation") for a map that differs from what the user approved.
    tokens = kucoin_tokens(groups=["API_COMMON", "API_SPOT"])
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    for body in (group_map("API_COMMON", "API_SPOT", "API_WITHDRAW_OAUTH"), group_map("API_COMMON")):
        refused = requests.post(base + ADD_KEY, headers=auth, json=body).json()
        assert refused["success"] is False and refused["code"] == "40503"
    assert requests.post(base + ADD_KEY, headers=auth, json={"authGroupMap": {"API_COMMON": "yes"}}).status_code == 400


def test_old_partners_key_path_takes_no_parameters_and_gets_the_approved_groups(base, kucoin_tokens):
    tokens = kucoin_tokens(groups=["API_COMMON", "API_EARN"])
    answer = requests.post(base + ADD_KEY_V1, headers={"Authorization": f"bearer {tokens['access_token']}"}).json()
    assert answer["success"] is True and answer["data"]["authGroup"] == "API_COMMON,API_EARN,"


def test_oauth_calls_answer_only_on_the_www_host_and_only_by_their_method(base, accounts, clients):
    user = accounts["kucoin"]["trader"]
    login = (
        f"/oauth?response_type=code&client_id=kc-broker&redirect_uri={KUCOIN_REDIRECT}&scope=OAUTH_CREATE_API&state=s1"
    )
    assert requests.get(base + "/kucoin" + login).status_code == 404  # api.kucoin.com has no login page
    code = authorize_code(base + "/kucoin-www" + login, user["email"], user["password"])["code"]
    query = f"grant_type=authorization_code&code={code}&client_id=kc-broker&redirect_uri={KUCOIN_REDIRECT}"
    assert requests.get(f"{base}/kucoin/_oauth/access-token?{query}").status_code == 404
    assert requests.post(f"{base}/kucoin-www/_oauth/access-token?{query}").status_code == 405
    encoded = query.replace(KUCOIN_REDIRECT, requests.utils.quote(KUCOIN_REDIRECT, safe=""))
    assert requests.get(f"{base}/kucoin-www/_oauth/access-token?{encoded}").json()["error"] == "invalid_request"
    tokens = requests.get(f"{base}/kucoin-www/_oauth/access-token?{query}").json()
    assert tokens["scope"] == ["OAUTH_CREATE_API"] and tokens["token_type"] == "bearer"
    refresh = {
        "grant_type": "authorization_code",
        "refresh_token": tokens["refresh_token"],
        "scope": "OAUTH_CREATE_API",
    }
    assert requests.post(f"{base}/kucoin/_oauth/refresh-token", data=refresh).status_code == 404
    assert requests.get(f"{base}/kucoin-www/_oauth/refresh-token", params=refresh).status_code == 405
    assert (
        requests.post(f"{base}/kucoin-www/_oauth/refresh-token", data={**refresh, "scope": "API_SPOT"}).json()["error"]
        == "invalid_scope"
    )
    renewed = requests.post(f"{base}/kucoin-www/_oauth/refresh-token", data=refresh).json()
    assert renewed["scope"] == ["OAUTH_CREATE_API"]
    # The approved groups stay with the renewed pair.
    auth = {"Authorization": f"Bearer {renewed['access_token']}"}
    approved = [group for group in KUCOIN_AUTH_GROUPS if group in ("API_COMMON", "API_SPOT", "API_FUTURES", "API_EARN")]
    assert requests.post(base + ADD_KEY, headers=auth, json=group_map(*approved)).json()["success"] is True
    assert (
        requests.post(
            base + "/kucoin" + ADD_KEY.removeprefix("/kucoin-www"), headers=auth, json=group_map(*approved)
        ).status_code
        == 404
    )


def test_signed_requests_are_checked_strictly(base, kucoin_key):
    key = kucoin_key()
    ok = call(base, key, "GET", "/api/v1/accounts?currency=BTC")
    assert ok.status_code == 200 and ok.json()["data"][0]["balance"] == "1.5"
    assert call(base, key, "GET", "/api/v1/accounts", **{"KC-API-SIGN": "bad"}).json()["code"] == "400005"
    assert call(base, key, "GET", "/api/v1/accounts", **{"KC-API-KEY": "nope"}).json()["code"] == "400003"
    stale = kucoin_request(
        base + "/kucoin", key, "kc-secret", "GET", "/api/v1/accounts", ts_ms=int(time.time() * 1000) - 6000
    )
    assert stale.json()["code"] == "400002"
    plain_passphrase = call(base, key, "GET", "/api/v1/accounts", **{"KC-API-PASSPHRASE": key["passphrase"]})
    assert plain_passphrase.json()["code"] == "400004"
    wrong_version = call(base, key, "GET", "/api/v1/accounts", **{"KC-API-KEY-VERSION": "2"})
    assert wrong_version.json()["code"] == "400004"
    bad_partner = call(base, key, "GET", "/api/v1/accounts", **{"KC-API-PARTNER-SIGN": "bad"})
    assert bad_partner.json() == {"code": "400201", "msg": "Invalid KC-API-PARTNER-SIGN"}
    not_verified = call(base, key, "GET", "/api/v1/accounts", **{"KC-API-PARTNER-VERIFY": "false"})
    assert not_verified.json()["code"] == "400201"
    # KC-BROKER-NAME is the broker name KuCoin issued, a value of its own, not the partner id.
    partner_as_name = call(base, key, "GET", "/api/v1/accounts", **{"KC-BROKER-NAME": key["brokerId"]})
    assert partner_as_name.json()["code"] == "400201"
    wrong_broker_key = kucoin_request(base + "/kucoin", key, "other-secret", "GET", "/api/v1/accounts")
    assert wrong_broker_key.json()["code"] == "400201"


def test_hf_orders_trade_from_the_high_frequency_account_the_accounts_list_shows(base, kucoin_key):
    key = kucoin_key()

    def accounts(query):
        return [
            (row["currency"], row["type"], row["available"])
            for row in call(base, key, "GET", f"/api/v1/accounts?{query}").json()["data"]
        ]

    assert accounts("currency=USDT") == [("USDT", "main", "25000"), ("USDT", "trade_hf", "25000")]
    assert {kind for _, kind, _ in accounts("type=trade_hf")} == {"trade_hf"}
    assert accounts("type=trade") == []
    placed = call(
        base,
        key,
        "POST",
        "/api/v1/hf/orders",
        body={
            "clientOid": "hfaccount00000000000000000000001",
            "side": "buy",
            "symbol": "BTC-USDT",
            "type": "market",
            "size": "0.01",
        },
    ).json()
    assert placed["code"] == "200000", placed
    # 0.01 BTC at 65000 plus the 0.1 % taker fee, out of trade_hf; the main account is untouched.
    assert accounts("currency=USDT") == [("USDT", "main", "25000"), ("USDT", "trade_hf", "24349.35")]
    assert accounts("currency=BTC") == [("BTC", "main", "1.5"), ("BTC", "trade_hf", "1.51")]


def test_bearer_token_works_on_rest(base, kucoin_tokens):
    tokens = kucoin_tokens()
    response = requests.get(
        base + "/kucoin/api/v1/accounts", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.json()["code"] == "200000" and len(response.json()["data"]) == 8  # main and trade_hf, 4 each


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
    pages = [
        call(base, key, "GET", f"/api/v1/withdrawals?currency=BTC&currentPage={page}&pageSize=10").json()["data"]
        for page in (1, 2)
    ]
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
    body = {
        "currency": "USDT",
        "toAddress": "TXsandboxAddress",
        "amount": "100",
        "withdrawType": "ADDRESS",
        "chain": "trx",
        "feeDeductType": "EXTERNAL",
    }
    first = withdraw(base, key, body).json()
    assert first["data"]["allFactors"] == [["GAV", "EMV"]] and first["data"]["sentFactors"] == [["EMV"]]
    inbox_page = requests.get(base + "/inbox/")
    assert trader["email"] in inbox_page.text
    wrong = withdraw(
        base,
        key,
        {
            "transactionId": first["data"]["transactionId"],
            "verifyCodes": {"GAV": "000000", "EMV": latest_code(base, trader["email"])},
        },
    )
    assert wrong.status_code == 400 and wrong.json()["code"] != "200000"
    codes = {"GAV": totp_now(trader["totp_secret"]), "EMV": latest_code(base, trader["email"])}
    done = withdraw(base, key, {"transactionId": first["data"]["transactionId"], "verifyCodes": codes}).json()
    assert done["code"] == "200000" and done["data"]["withdrawalId"]
    replay = withdraw(base, key, {"transactionId": first["data"]["transactionId"], "verifyCodes": codes})
    assert replay.json()["code"] != "200000"
    # EXTERNAL (KuCoin's withdrawal v3: the fee from the main account): 100 sent, 1 USDT chain fee + 10 USDT
    # OAuth fee (10%) on top.
    assert Balance.objects.get(user__email=trader["email"], currency="USDT").available == Decimal("25000") - 111
    detail = call(base, key, "GET", f"/api/v1/withdrawals/{done['data']['withdrawalId']}").json()["data"]
    assert detail["amount"] == "100" and detail["fee"] == "11" and detail["status"] == "PROCESSING"
    ledger = HistoryRecord.objects.filter(user__email=trader["email"], kind="ledger", synthetic=False).order_by("id")
    assert [entry.amount for entry in ledger] == [Decimal("-100"), Decimal("-1"), Decimal("-10")]
    assert ledger.last().balance_after == Decimal("24889")
    # INTERNAL: fees out of the amount; 1000 USDT hits the 30 USDT cap.
    internal = two_step_withdraw(base, key, trader, {**body, "amount": "1000", "feeDeductType": "INTERNAL"}).json()
    record = HistoryRecord.objects.get(txid=internal["data"]["withdrawalId"])
    assert record.amount == Decimal("969") and record.fee == Decimal("31")
    assert Balance.objects.get(user__email=trader["email"], currency="USDT").available == Decimal("23889")
    requests.post(base + "/control/clock", json={"offset_seconds": 60})
    assert (
        call(base, key, "GET", f"/api/v1/withdrawals/{done['data']['withdrawalId']}").json()["data"]["status"]
        == "SUCCESS"
    )


def test_withdrawal_checks(base, accounts, kucoin_key, kucoin_tokens):
    key = kucoin_key()
    body = {"currency": "BTC", "toAddress": "bc1sandbox", "amount": "0.0001", "withdrawType": "ADDRESS"}
    assert withdraw(base, key, body).json()["code"] == "400100"  # below the minimum size
    assert withdraw(base, key, {**body, "amount": "0.123456789"}).json()["code"] == "400100"  # precision
    assert withdraw(base, key, {**body, "amount": "100"}).json()["code"] == "200004"
    # toAddress is the v3 field; the older "address" is not read.
    assert (
        withdraw(
            base,
            key,
            {**{k: v for k, v in body.items() if k != "toAddress"}, "address": "bc1sandbox", "amount": "0.01"},
        ).json()["code"]
        == "400100"
    )
    no_permission = kucoin_key(groups=["API_COMMON"])
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
    assert message.startswith(
        "You need to bind more factors to continue this operation. Please visit the following link: "
    )
    link = message.rsplit(" ", 1)[1]
    assert link == base + "/kucoin-www/account/security/g2fa"  # KuCoin's www site
    session = requests.Session()
    setup_url = f"{link}?client_id=kc-broker&redirect_uri={requests.utils.quote(KUCOIN_REDIRECT, safe='')}"
    assert sign_in(session, setup_url, account["email"], account["password"]).status_code == 302
    page = session.get(setup_url)
    secret = page.text.split('id="totp-secret">')[1].split("<")[0]
    bound = session.post(
        setup_url,
        data={"csrfmiddlewaretoken": csrf_token(page.text), "action": "bind", "code": totp_now(secret)},
        allow_redirects=False,
    )
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
    assert (
        limited.status_code == 429 and limited.json()["code"] == "429000" and int(limited.headers["Retry-After"]) >= 1
    )
    # ADDRESS withdrawals do not count.
    assert withdraw(base, key, {**body, "withdrawType": "ADDRESS", "chain": "trx"}).json()["code"] == "200000"
    for step in range(1, 17):  # 11 s later each time: the 10 s window is open again, the 24 h one fills up
        requests.post(base + "/control/clock", json={"offset_seconds": 11 * step})
        for _ in range(3):
            withdraw(base, key, body)
    requests.post(base + "/control/clock", json={"offset_seconds": 11 * 20})
    assert withdraw(base, key, body).json()["code"] == "429000"  # 50 in 24 h
