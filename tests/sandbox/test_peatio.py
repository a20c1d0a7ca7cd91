"""The Peatio-style APIv2: access/secret key from the user token, tonce, scopes, expiry."""

import time

import pytest
import requests

from .support import PEATIO_REDIRECT, peatio_get

pytestmark = pytest.mark.django_db(transaction=True)


def test_members_me_tonce_and_signature(base, peatio_token):
    token = peatio_token()
    access_key, secret_key = token["access_token"].split(":")
    api = base + "/peatio"
    tonce = int(time.time() * 1000)
    me = peatio_get(api, access_key, secret_key, "/api/v2/members/me", tonce=tonce)
    assert me.status_code == 200 and me.json()["email"] == "trader@peatio.sandbox"
    assert {"currency": "btc", "balance": "1.5", "locked": "0"} in me.json()["accounts"]
    reused = peatio_get(api, access_key, secret_key, "/api/v2/members/me", tonce=tonce)
    assert reused.json()["error"]["code"] == 2006
    stale = peatio_get(api, access_key, secret_key, "/api/v2/members/me", tonce=tonce - 31000)
    assert stale.json()["error"]["code"] == 2007
    wrong = peatio_get(api, access_key, "not-the-secret", "/api/v2/members/me")
    assert wrong.json()["error"]["code"] == 2005
    assert len(peatio_get(api, access_key, secret_key, "/api/v2/deposits", {"limit": "20"}).json()) == 20


def test_scope_expiry_and_refresh(base, peatio_token):
    profile_only = peatio_token(scope="profile")
    access_key, secret_key = profile_only["access_token"].split(":")
    api = base + "/peatio"
    out_of_scope = peatio_get(api, access_key, secret_key, "/api/v2/trades/my", {"market": "btcusdt"})
    # errors.rb OutOfScopeError: 2011 with HTTP 401 (the old reading answered 403).
    assert out_of_scope.status_code == 401 and out_of_scope.json()["error"]["code"] == 2011
    requests.post(f"{base}/control/clock", json={"offset_seconds": 4 * 3600 + 1})
    expired = peatio_get(api, access_key, secret_key, "/api/v2/members/me").json()
    assert expired == {"error": {"code": 2010, "message": f"The access key {access_key} has expired."}}
    refreshed = requests.post(
        f"{base}/peatio/oauth/token",
        data={
            "client_id": "peatio-broker",
            "client_secret": "peatio-secret",
            "grant_type": "refresh_token",
            "refresh_token": profile_only["refresh_token"],
        },
    ).json()
    new_access, new_secret = refreshed["access_token"].split(":")
    assert peatio_get(api, new_access, new_secret, "/api/v2/members/me").status_code == 200
    # A refresh revokes the old token, and Peatio's revoke destroys its key pair: "does not exist" (2008),
    # as hpyhacking/peatio's keypair_authenticator.rb says (the old reading answered 2009, "disabled").
    old_pair = peatio_get(api, access_key, secret_key, "/api/v2/members/me")
    assert old_pair.status_code == 401 and old_pair.json() == {
        "error": {"code": 2008, "message": f"The access key {access_key} does not exist."}
    }


def test_requests_per_key_pair_are_limited_per_five_minutes(base, peatio_token, settings):
    settings.SANDBOX_PEATIO_REQUESTS_PER_WINDOW = 3
    access_key, secret_key = peatio_token()["access_token"].split(":")
    api = base + "/peatio"
    now = int(time.time() * 1000)
    answers = [peatio_get(api, access_key, secret_key, "/api/v2/members/me", tonce=now + i) for i in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    # Rack::Attack 3.0.0's throttled response (peatio's constraints.rb); the old reading answered JSON 2002,
    # which is Peatio's "Failed to create order".
    assert answers[-1].text == "Retry later\n" and answers[-1].headers["Retry-After"] == "300"


def test_scope_plus_in_the_query_is_a_space_and_an_encoded_plus_is_one_unknown_scope(base, accounts, clients):
    authorize = (
        f"{base}/peatio/oauth/authorize?client_id=peatio-broker&redirect_uri={PEATIO_REDIRECT}"
        "&response_type=code&scope="
    )
    # The document's "scope=profile+history+trade": Doorkeeper reads the decoded value, space-separated.
    page = requests.get(authorize + "profile+history+trade")
    assert page.status_code == 200 and 'name="password"' in page.text
    # "%2B" is a literal plus: "profile+history" is no scope Doorkeeper knows.
    refused = requests.get(authorize + "profile%2Bhistory")
    assert refused.status_code == 400 and "profile+history" in refused.text
