"""The OAuth rules on all four exchanges, over HTTP."""

import base64

import pytest
import requests

from sandbox.exchanges import KUCOIN_AUTH_GROUPS

from .support import (
    KRAKEN_REDIRECT,
    KUCOIN_REDIRECT,
    OKX_REDIRECT,
    PEATIO_REDIRECT,
    authorize_code,
    basic,
    consent,
    kraken_url,
    query_of,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)


def kucoin_url(base, redirect=KUCOIN_REDIRECT, state="st-1", client_id="kc-broker"):
    url = (
        f"{base}/kucoin-www/oauth?response_type=code&client_id={client_id}&redirect_uri={redirect}"
        "&scope=OAUTH_CREATE_API"
    )
    return url + (f"&state={state}" if state is not None else "")


def kucoin_exchange(base, code, redirect=KUCOIN_REDIRECT, secret="kc-secret"):
    # KuCoin's token call: a GET on the www host, the redirect URL unencoded (Fast API document section 7.2).
    return requests.get(
        f"{base}/kucoin-www/_oauth/access-token?grant_type=authorization_code&code={code}"
        f"&client_id=kc-broker&client_secret={secret}&redirect_uri={redirect}"
    )


def test_kucoin_full_flow_with_state_and_scope(base, accounts, clients):
    user = accounts["kucoin"]["trader"]
    query = authorize_code(kucoin_url(base), user["email"], user["password"])
    assert query["state"] == "st-1"
    response = kucoin_exchange(base, query["code"])
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    # The token's scope is its own purpose; the groups approved on the page are not OAuth scopes (section 7.3).
    assert body["scope"] == ["OAUTH_CREATE_API"]


def test_kucoin_state_is_mandatory_and_redirect_must_be_unencoded(base, accounts, clients):
    missing_state = requests.get(kucoin_url(base, state=None))
    assert missing_state.status_code == 400 and "state is mandatory" in missing_state.text
    encoded = requests.get(kucoin_url(base, redirect=requests.utils.quote(KUCOIN_REDIRECT, safe="")))
    assert encoded.status_code == 400 and "unencoded" in encoded.text


def test_unknown_client_and_unregistered_redirect_show_an_error_page(base, clients):
    unknown = requests.get(kucoin_url(base, client_id="nobody"), allow_redirects=False)
    assert unknown.status_code == 400 and "Unknown client_id" in unknown.text
    for redirect in [KUCOIN_REDIRECT + "/extra", KUCOIN_REDIRECT[:-1], "http://evil.test/kucoin/callback"]:
        response = requests.get(kucoin_url(base, redirect=redirect), allow_redirects=False)
        assert response.status_code == 400 and "Location" not in response.headers
    okx = requests.get(
        f"{base}/okx/account/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": "okx-broker",
            "redirect_uri": OKX_REDIRECT + "?x=1",
            "scope": "read_only",
            "state": "s",
        },
    )
    assert "53016" in okx.text


def test_wrong_password_and_deny(base, accounts, clients):
    session = requests.Session()
    wrong = sign_in(session, kucoin_url(base), "trader@kucoin.sandbox", "nope")
    assert wrong.status_code == 401
    user = accounts["kucoin"]["trader"]
    denied = consent(requests.Session(), kucoin_url(base), user["email"], user["password"], action="deny")
    assert denied.status_code == 302
    assert query_of(denied.headers["Location"]) == {"error": "access_denied", "state": "st-1"}
    assert denied.headers["Location"].startswith(KUCOIN_REDIRECT + "?")


def test_code_is_single_use_and_replay_revokes_its_tokens(base, accounts, clients):
    user = accounts["kucoin"]["trader"]
    code = authorize_code(kucoin_url(base), user["email"], user["password"])["code"]
    first = kucoin_exchange(base, code).json()
    replay = kucoin_exchange(base, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    add_key = requests.post(
        f"{base}/kucoin-www/_oauth/resource/ucenter/outer/api-key/add",
        headers={"Authorization": f"Bearer {first['access_token']}"},
        json={},
    )
    assert add_key.status_code == 401 and add_key.json()["success"] is False
    refresh = requests.post(
        f"{base}/kucoin-www/_oauth/refresh-token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "scope": "OAUTH_CREATE_API",
            "client_id": "kc-broker",
            "client_secret": "kc-secret",
        },
    )
    assert refresh.status_code == 400


def test_code_is_bound_to_redirect_uri_client_secret_and_expires(base, accounts, clients):
    user = accounts["kucoin"]["trader"]
    code = authorize_code(kucoin_url(base), user["email"], user["password"])["code"]
    assert kucoin_exchange(base, code, secret="wrong").status_code == 401
    code = authorize_code(kucoin_url(base), user["email"], user["password"])["code"]
    assert kucoin_exchange(base, code, redirect=KUCOIN_REDIRECT + "/x").json()["error"] == "invalid_grant"
    code = authorize_code(kucoin_url(base), user["email"], user["password"])["code"]
    requests.post(f"{base}/control/clock", json={"offset_seconds": 301})
    assert kucoin_exchange(base, code).json()["error"] == "invalid_grant"


def test_refresh_rotates_and_reuse_revokes_the_family(base, accounts, clients, kucoin_tokens):
    first = kucoin_tokens()
    refresh_form = {
        "grant_type": "refresh_token",
        "scope": "OAUTH_CREATE_API",
        "client_id": "kc-broker",
        "client_secret": "kc-secret",
    }
    add_url = f"{base}/kucoin-www/_oauth/resource/ucenter/outer/api-key/add"
    second = requests.post(
        f"{base}/kucoin-www/_oauth/refresh-token", data={**refresh_form, "refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200 and second.json()["scope"] == ["OAUTH_CREATE_API"]
    second = second.json()
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    old = requests.post(add_url, headers={"Authorization": f"Bearer {first['access_token']}"}, json={})
    assert old.status_code == 401  # the old access token stopped working at once
    reuse = requests.post(
        f"{base}/kucoin-www/_oauth/refresh-token", data={**refresh_form, "refresh_token": first["refresh_token"]}
    )
    assert reuse.json()["error"] == "invalid_grant"
    # ... and the reuse revoked the newer pair too.
    assert (
        requests.post(add_url, headers={"Authorization": f"Bearer {second['access_token']}"}, json={}).status_code
        == 401
    )
    again = requests.post(
        f"{base}/kucoin-www/_oauth/refresh-token", data={**refresh_form, "refresh_token": second["refresh_token"]}
    )
    assert again.status_code == 400
    no_scope = requests.post(
        f"{base}/kucoin-www/_oauth/refresh-token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": "kc-broker",
            "client_secret": "kc-secret",
        },
    )
    assert no_scope.json()["error"] == "invalid_request"


def test_kraken_basic_auth_only_and_lifetimes(base, accounts, clients):
    user = accounts["kraken"]["trader"]
    token_url = f"{base}/kraken/oauth/token"
    code = authorize_code(kraken_url(base), user["email"], user["password"])["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": KRAKEN_REDIRECT}
    in_body = requests.post(token_url, data={**form, "client_id": "kraken-broker", "client_secret": "kraken-secret"})
    assert in_body.status_code == 400
    no_auth = requests.post(token_url, data={**form, "client_id": "kraken-broker"})
    assert no_auth.status_code == 401 and no_auth.json()["error"] == "invalid_client"
    code = authorize_code(kraken_url(base), user["email"], user["password"])["code"]
    as_json = requests.post(token_url, json={**form, "code": code}, headers=basic("kraken-broker", "kraken-secret"))
    assert as_json.status_code == 400
    code = authorize_code(kraken_url(base), user["email"], user["password"])["code"]
    good = requests.post(token_url, data={**form, "code": code}, headers=basic("kraken-broker", "kraken-secret"))
    assert good.status_code == 200 and good.json()["expires_in"] == 24 * 3600
    code = authorize_code(kraken_url(base, client_id="kraken-app"), user["email"], user["password"])["code"]
    public = requests.post(token_url, data={**form, "code": code}, headers=basic("kraken-app", ""))
    assert public.status_code == 200 and public.json()["expires_in"] == 4 * 3600
    rotated = requests.post(
        token_url,
        data={"grant_type": "refresh_token", "refresh_token": public.json()["refresh_token"]},
        headers=basic("kraken-app", ""),
    )
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != public.json()["refresh_token"]


def test_kraken_refusal_and_scope_checks(base, accounts, clients):
    user = accounts["kraken"]["trader"]
    denied = consent(requests.Session(), kraken_url(base), user["email"], user["password"], action="deny")
    assert query_of(denied.headers["Location"]) == {"error": "access_denied", "state": "k1"}
    # openapi_v3.yaml OAuthAuthorizeRedirect: errors go back to the redirect URI (the old reading: a 400 page).
    unknown_scope = requests.get(kraken_url(base, scope="account.fast-api-key:everything"), allow_redirects=False)
    assert query_of(unknown_scope.headers["Location"]) == {"error": "invalid_scope", "state": "k1"}
    unregistered = requests.get(kraken_url(base).replace("broker.test", "elsewhere.test"), allow_redirects=False)
    assert unregistered.status_code == 400  # never redirected to an unregistered URI


def test_peatio_plus_scopes_and_token_shape(base, accounts, clients):
    user = accounts["peatio"]["trader"]
    # "+" in a query string is a space; an encoded "%2B" is not a separator (see test_peatio.py).
    for scope in ["profile+history+trade", "profile%20history%20trade"]:
        url = (
            f"{base}/peatio/oauth/authorize?client_id=peatio-broker"
            f"&redirect_uri={requests.utils.quote(PEATIO_REDIRECT, safe='')}"
            f"&response_type=code&scope={scope}"
        )
        code = authorize_code(url, user["email"], user["password"])["code"]
        response = requests.post(
            f"{base}/peatio/oauth/token",
            data={
                "client_id": "peatio-broker",
                "client_secret": "peatio-secret",
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": PEATIO_REDIRECT,
            },
        )
        body = response.json()
        assert body["expires_in"] == 14400 and body["access_token"].count(":") == 1
        assert set(body["scope"].split()) == {"profile", "history", "trade"}


def test_client_register_is_idempotent_and_encrypts_kraken_secret(transactional_db):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from sandbox.models import Client
    from sandbox.services import client_register

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for _ in range(2):
        result = client_register(
            exchange="kraken",
            client_id="k",
            client_secret="s3cret",
            redirect_uris=["http://x/cb"],
            permissions=["account.info:basic"],
            rsa_public_key=public_pem,
        )
    assert Client.objects.filter(exchange="kraken", client_id="k").count() == 1
    decrypted = private_key.decrypt(base64.b64decode(result["encrypted_client_secret"]), padding.PKCS1v15())
    assert decrypted == b"s3cret"
    plain = client_register(
        exchange="kucoin", client_id="k", client_secret="s", redirect_uris=[], permissions=KUCOIN_AUTH_GROUPS
    )
    # KuCoin issues a broker name of its own beside the partner id.
    assert plain == {"client_id": "k", "client_secret": "s", "broker_name": "k-broker-name"}


def test_peatio_revoke_disables_the_key_pair(base, accounts, clients):
    user = accounts["peatio"]["trader"]
    url = (
        f"{base}/peatio/oauth/authorize?client_id=peatio-broker&redirect_uri={PEATIO_REDIRECT}"
        "&response_type=code&scope=profile"
    )
    code = authorize_code(url, user["email"], user["password"])["code"]
    form = {"client_id": "peatio-broker", "client_secret": "peatio-secret"}
    tokens = requests.post(
        f"{base}/peatio/oauth/token",
        data={**form, "code": code, "grant_type": "authorization_code", "redirect_uri": PEATIO_REDIRECT},
    ).json()
    access_key = tokens["access_token"].split(":")[0]
    from sandbox.models import Token

    # Doorkeeper 1.4 tokens_controller.rb#revoke: without a valid access token as Bearer nothing is revoked,
    # and the answer is 200 all the same (the old reading revoked on the client's credentials).
    ignored = requests.post(f"{base}/peatio/oauth/revoke", data={**form, "token": tokens["refresh_token"]})
    assert ignored.status_code == 200 and ignored.json() == {}
    assert Token.objects.get(access_token=access_key).revoked_at is None
    wrong_bearer = requests.post(
        f"{base}/peatio/oauth/revoke",
        data={"token": tokens["refresh_token"]},
        headers={"Authorization": "Bearer nope:nope"},
    )
    assert wrong_bearer.status_code == 200 and Token.objects.get(access_token=access_key).revoked_at is None
    # With its access token as Bearer, and no client credentials at all (Doorkeeper 1.4 checks none).
    revoked = requests.post(
        f"{base}/peatio/oauth/revoke",
        data={"token": tokens["refresh_token"]},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert revoked.status_code == 200 and revoked.json() == {}
    refreshed = requests.post(
        f"{base}/peatio/oauth/token",
        data={**form, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert Token.objects.get(access_token=access_key).revoked_at is not None


def test_two_concurrent_refreshes_with_one_token_always_revoke_the_family(accounts, clients):
    """Two connections race with the same refresh token: one wins, and the loser's reuse ends the family."""
    import threading
    import time
    import uuid

    from django.db import connection as db_connection
    from django.db import transaction

    from sandbox import oauth
    from sandbox.models import Client, SandboxUser, Token

    client = Client.objects.get(exchange="kraken", client_id="kraken-broker")
    user = SandboxUser.objects.get(exchange="kraken", email="trader@kraken.sandbox")
    for _ in range(3):
        pair = oauth._new_pair(client, user, ["account.fast-api-key:write"], uuid.uuid4().hex)
        outcomes, ready = [], threading.Barrier(3)

        def spend(ready=ready, outcomes=outcomes, pair=pair):
            try:
                ready.wait()
                outcomes.append(oauth.refresh(client, pair.refresh_token).pk)
            except oauth.OAuthError as problem:
                outcomes.append(problem.error)
            finally:
                db_connection.close()

        threads = [threading.Thread(target=spend) for _ in range(2)]
        with transaction.atomic():
            # Hold the row so both refreshes queue on it, then let them go at once.
            Token.objects.select_for_update().get(pk=pair.pk)
            for thread in threads:
                thread.start()
            ready.wait()
            time.sleep(0.3)
        for thread in threads:
            thread.join(30)
        assert len(outcomes) == 2 and outcomes.count("invalid_grant") == 1, outcomes
        assert not Token.objects.filter(family=pair.family, revoked_at__isnull=True).exists()
