"""Plain-HTTP helpers for driving the sandbox the way a broker's client would (no portal code)."""

import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse
from datetime import UTC, datetime

import pyotp
import requests

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHECKED = re.compile(r'name="scope" value="([^"]+)"[^>]*checked')

KUCOIN_REDIRECT = "http://broker.test/kucoin/callback"
OKX_REDIRECT = "http://broker.test/okx/callback"
KRAKEN_REDIRECT = "http://broker.test/kraken/callback"
PEATIO_REDIRECT = "http://broker.test/peatio/callback"
# Every Fast API key permission Kraken grants a broker client.
ALL_FUNDS = (
    "account.fast-api-key:write account.fast-api-key:funds-query account.fast-api-key:funds-withdraw "
    "account.fast-api-key:ledger-query account.fast-api-key:trades-query-closed"
)
KUCOIN_BROKER_NAME = "KCBROKERNAME"  # the broker name the KuCoin test client is registered with (not its partner id)


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:500]
    return match.group(1)


def query_of(location: str) -> dict:
    return {key: values[0] for key, values in urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).items()}


def sign_in(session: requests.Session, url: str, email: str, password: str) -> requests.Response:
    page = session.get(url)
    assert page.status_code == 200 and 'name="password"' in page.text, page.text[:500]
    return session.post(
        url,
        data={"csrfmiddlewaretoken": csrf_token(page.text), "action": "sign_in", "email": email, "password": password},
        allow_redirects=False,
    )


def consent(session, url, email, password, *, action="approve", scopes=None) -> requests.Response:
    """Sign in, then approve or deny; returns the (unfollowed) redirect back to the broker."""
    signed = sign_in(session, url, email, password)
    assert signed.status_code == 302, signed.text[:500]
    page = session.get(url)
    assert page.status_code == 200 and 'id="approve"' in page.text, page.text[:500]
    chosen = CHECKED.findall(page.text) if scopes is None else scopes
    data = {"csrfmiddlewaretoken": csrf_token(page.text), "action": action, "scope": chosen}
    return session.post(url, data=data, allow_redirects=False)


def authorize_code(url, email, password, **kwargs) -> dict:
    response = consent(requests.Session(), url, email, password, **kwargs)
    assert response.status_code == 302, response.text[:500]
    return query_of(response.headers["Location"])


def pkce_pair(verifier: str = "a" * 50) -> tuple[str, str]:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


# --- signed requests, built from the exchanges' definitions ---------------------------------------------


def _b64_hmac(key: str, message: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()).decode()


def kucoin_request(
    base,
    key: dict,
    broker_key: str,
    method,
    path,
    *,
    body=None,
    ts_ms=None,
    broker_name=KUCOIN_BROKER_NAME,
    **overrides,
):
    """``path`` is the exchange's own (e.g. /api/v1/accounts?currency=BTC); ``base`` is /sandbox/kucoin (the api
    host)."""
    timestamp = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
    text = json.dumps(body) if body is not None else ""
    headers = {
        "KC-API-KEY": key["apiKey"],
        "KC-API-SIGN": _b64_hmac(key["secret"], timestamp + method + path + text),
        "KC-API-TIMESTAMP": timestamp,
        "KC-API-PASSPHRASE": _b64_hmac(key["secret"], key["passphrase"]),
        "KC-API-KEY-VERSION": "3",
        "KC-API-PARTNER": key["brokerId"],
        "KC-BROKER-NAME": broker_name,
        "KC-API-PARTNER-VERIFY": "true",
        "KC-API-PARTNER-SIGN": _b64_hmac(broker_key, timestamp + key["brokerId"] + key["apiKey"]),
        "Content-Type": "application/json",
    }
    headers.update(overrides)
    return requests.request(method, base + path, headers=headers, data=text or None)


def okx_request(base, key: dict, method, path, *, body=None, when=None, **overrides):
    moment = when or datetime.now(UTC)
    timestamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    text = json.dumps(body) if body is not None else ""
    headers = {
        "OK-ACCESS-KEY": key["apiKey"],
        "OK-ACCESS-SIGN": _b64_hmac(key["secretKey"], timestamp + method + path + text),
        "OK-ACCESS-TIMESTAMP": timestamp,
        "OK-ACCESS-PASSPHRASE": key["passphrase"],
        "Content-Type": "application/json",
    }
    headers.update(overrides)
    return requests.request(method, base + path, headers=headers, data=text or None)


def kraken_private(base, key: dict, method_name: str, params: dict | None = None, *, nonce=None, sign_secret=None):
    nonce = str(nonce if nonce is not None else time.time_ns() // 1000)
    post_data = urllib.parse.urlencode({"nonce": nonce, **(params or {})})
    uri_path = f"/0/private/{method_name}"
    digest = hashlib.sha256((nonce + post_data).encode()).digest()
    mac = hmac.new(base64.b64decode(sign_secret or key["secret"]), uri_path.encode() + digest, hashlib.sha512)
    headers = {
        "API-Key": key["api_key"],
        "API-Sign": base64.b64encode(mac.digest()).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return requests.post(base + uri_path, data=post_data, headers=headers)


def peatio_get(base, access_key, secret_key, path, params=None, *, tonce=None):
    query = {
        "access_key": access_key,
        "tonce": str(tonce if tonce is not None else int(time.time() * 1000)),
        **(params or {}),
    }
    payload = f"GET|{path}|{urllib.parse.urlencode(sorted(query.items()))}"
    query["signature"] = hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return requests.get(base + path, params=query)


def kraken_url(base, client_id="kraken-broker", scope="account.fast-api-key:write account.fast-api-key:funds-query"):
    return (
        f"{base}/kraken/oauth/authorize?client_id={client_id}"
        f"&redirect_uri={requests.utils.quote(KRAKEN_REDIRECT, safe='')}"
        f"&response_type=code&scope={requests.utils.quote(scope)}&state=k1"
    )


def basic(client_id, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def authorize_url(base, **overrides):
    params = {
        "response_type": "code",
        "access_type": "offline",
        "client_id": "okx-broker",
        "redirect_uri": OKX_REDIRECT,
        "scope": "fast_api",
        "state": "o",
        **overrides,
    }
    return (
        requests.Request(
            "GET", f"{base}/okx/account/oauth/authorize", params={k: v for k, v in params.items() if v is not None}
        )
        .prepare()
        .url
    )


def token_call(base, code, *, form=False, **overrides):
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "okx-broker",
        "client_secret": "okx-secret",
        **overrides,
    }
    return requests.post(f"{base}/okx/v5/users/oauth/token", **({"data": body} if form else {"json": body}))
