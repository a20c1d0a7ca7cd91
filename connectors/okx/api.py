"""OKX's Fast API key and signed REST calls (OK-ACCESS-* headers)."""

import base64
import hashlib
import hmac
import json
import secrets
import string
from datetime import datetime, timezone
from decimal import Decimal

from connectors.base.api import (
    AccessTokenExpired, ApiKey, ApiKeyRefused, Balance, ExchangeAPI, ExchangeAPIError, json_or_empty, required_texts,
)
from connectors.base.http import exchange_session

from .regions import regional_api_base_url

KEY_LABEL = "broker-portal"
ONE_KEY_PER_USER = "53018"
TOKEN_EXPIRED_CODES = {"53002", "53003"}


def okx_timestamp(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def sign(secret: str, timestamp: str, method: str, request_path: str, body: str) -> str:
    message = f"{timestamp}{method.upper()}{request_path}{body}"
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


def new_passphrase() -> str:
    """8–32 characters with upper, lower, digit and special, as OKX requires."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return core + secrets.choice(string.ascii_uppercase) + secrets.choice(string.ascii_lowercase) + \
        secrets.choice(string.digits) + secrets.choice("!@#$%^&*")


class OKXAPI(ExchangeAPI):
    one_key_per_user = True  # "one active Fast API key per user per broker"

    def base_url_for(self, details: dict) -> str:
        """The user's regional host where the authorization callback named one (checked again on every use),
        else the credential's API base URL."""
        return regional_api_base_url(self.settings, details["domain"]) if details.get("domain") else self.base_url

    def bearer_headers(self, access_token: str, flow_data: dict) -> dict:
        headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}
        if flow_data.get("device_id"):
            headers["TERMID"] = flow_data["device_id"]
        return headers

    def bearer_post(self, path: str, access_token: str, body: dict, flow_data: dict) -> dict:
        base_url = self.base_url_for(flow_data)
        with exchange_session(allowed_base_urls=[base_url]) as session:
            response = session.post(base_url + path, json=body, headers=self.bearer_headers(access_token, flow_data))
        payload = json_or_empty(response)
        code = str(payload.get("code", ""))
        if code in TOKEN_EXPIRED_CODES:
            raise AccessTokenExpired(payload.get("msg", "Access token expired."), code=code)
        if code != "0":
            raise ExchangeAPIError(payload.get("msg", f"HTTP {response.status_code}"), code=code)
        data = payload.get("data")
        if isinstance(data, list):
            data = data[0] if data else {}
        return data if isinstance(data, dict) else {}

    def create_api_key(self, access_token, permissions, flow_data):
        perms = [p for p in permissions if p in ("read_only", "trade")] or ["read_only"]
        try:
            data = self.bearer_post("/api/v5/users/oauth/apikey", access_token, {
                "label": KEY_LABEL, "passphrase": new_passphrase(), "perm": ",".join(perms),
            }, flow_data)
        except AccessTokenExpired:
            raise
        except ExchangeAPIError as error:  # noqa: B014 (AccessTokenExpired is one, and passes above)
            if error.code == ONE_KEY_PER_USER:
                raise ApiKeyRefused("OKX allows one Fast API key per user for this broker, and your account "
                                    "already has one. Delete it under OKX's API management, then connect again.")
            raise ApiKeyRefused(f"OKX would not create the API key: {error}")
        key, secret, passphrase = required_texts(data, ("apiKey", "secretKey", "passphrase"),
                                                 answer="OKX's answer to the API key request")
        perm = data.get("perm")
        return ApiKey(key=key, secret=secret, passphrase=passphrase, key_id=key,
                      permissions=[p for p in perm.split(",") if p] if isinstance(perm, str) else [])

    def delete_api_key(self, access_token, connection):
        try:
            self.bearer_post("/api/v5/users/oauth/delete-apikey", access_token, {"apiKey": connection.api_key},
                             connection.details)
        except AccessTokenExpired:
            raise
        except ExchangeAPIError:  # noqa: B014 (already gone at the exchange)
            return False
        return True

    def signed(self, connection, method: str, path_with_query: str, body: dict | None = None) -> list:
        text = json.dumps(body, separators=(",", ":")) if body is not None else ""
        timestamp = okx_timestamp()
        headers = {
            "OK-ACCESS-KEY": connection.api_key,
            "OK-ACCESS-SIGN": sign(connection.api_secret, timestamp, method, path_with_query, text),
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-PASSPHRASE": connection.api_passphrase,
            "Content-Type": "application/json",
        }
        base_url = self.base_url_for(connection.details)
        with exchange_session(allowed_base_urls=[base_url]) as session:
            response = session.request(method, base_url + path_with_query, data=text or None, headers=headers)
        payload = json_or_empty(response)
        if str(payload.get("code")) != "0":
            raise ExchangeAPIError(payload.get("msg", f"HTTP {response.status_code}"), code=str(payload.get("code", "")))
        return payload["data"]

    def usdt_prices(self, currencies):
        prices = {}
        for code in currencies:
            payload = self.public_get("/api/v5/market/ticker", {"instId": f"{code}-USDT"})
            if str(payload.get("code")) == "0" and payload.get("data"):
                prices[code] = Decimal(payload["data"][0]["last"])
        return prices

    def balances(self, connection):
        details = self.signed(connection, "GET", "/api/v5/account/balance")[0].get("details", [])
        return [Balance(item["ccy"], Decimal(item["availBal"]), Decimal(item["cashBal"])) for item in details]
