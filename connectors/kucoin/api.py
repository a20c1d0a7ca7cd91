"""KuCoin's Fast API key creation and signed REST calls (KC-API-* headers, broker attribution)."""

import base64
import hashlib
import hmac
import json
import time
from decimal import Decimal

from connectors.base.api import (
    AccessTokenExpired, ApiKey, ApiKeyRefused, Balance, ExchangeAPI, ExchangeAPIError, json_or_empty, required_texts,
)

KEY_VERSION = "3"  # Fast API keys are version 3 keys
MAX_KEYS_MESSAGE = "The number of user's apiKey reaches to the maximum level"


def hmac_b64(secret: str, message: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


def sign_headers(*, api_key: str, secret: str, passphrase: str, method: str, path_with_query: str, body: str,
                 partner: str, broker_key: str, timestamp: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time() * 1000))
    headers = {
        "KC-API-KEY": api_key,
        "KC-API-SIGN": hmac_b64(secret, f"{timestamp}{method.upper()}{path_with_query}{body}"),
        "KC-API-TIMESTAMP": timestamp,
        "KC-API-PASSPHRASE": hmac_b64(secret, passphrase),  # version 2 and later
        "KC-API-KEY-VERSION": KEY_VERSION,
        "Content-Type": "application/json",
    }
    if partner and broker_key:
        headers.update({
            "KC-API-PARTNER": partner,
            "KC-BROKER-NAME": partner,
            "KC-API-PARTNER-VERIFY": "true",
            "KC-API-PARTNER-SIGN": hmac_b64(broker_key, f"{timestamp}{partner}{api_key}"),
        })
    return headers


class KuCoinAPI(ExchangeAPI):
    @property
    def partner(self) -> str:
        return self.settings.get("partner", "")

    def create_api_key(self, access_token, permissions, flow_data):
        body = {"authGroupMap": {group: group in permissions for group in (
            "API_COMMON", "API_SPOT", "API_MARGIN", "API_FUTURES", "API_EARN", "API_TRANSFER", "API_WITHDRAW_OAUTH",
        )}, "isAddressbookOnly": False}
        with self.session() as session:
            response = session.post(self.url("/_oauth/resource/ucenter/outer/api-key/add"), json=body,
                                    headers={"Authorization": f"Bearer {access_token}"})
        payload = json_or_empty(response)
        if response.status_code == 401:
            raise AccessTokenExpired(payload.get("msg", "Access token refused."))
        if not payload.get("success"):
            message = str(payload.get("msg") or f"HTTP {response.status_code}")
            if MAX_KEYS_MESSAGE in message:
                raise ApiKeyRefused("Your KuCoin account already has the most API keys it may have. Delete an "
                                    "unused API key under KuCoin's API Management, then connect again.")
            raise ApiKeyRefused(f"KuCoin would not create the API key: {message}")
        data = payload.get("data")
        key, secret, passphrase = required_texts(data, ("apiKey", "secret", "passphrase"),
                                                 answer="KuCoin's answer to the API key request")
        groups = data.get("authGroup")
        groups = [group for group in groups.split(",") if group] if isinstance(groups, str) else []
        return ApiKey(key=key, secret=secret, passphrase=passphrase, key_id=str(data.get("apiName") or ""),
                      permissions=groups)

    def signed(self, connection, method: str, path_with_query: str, body: dict | None = None) -> dict:
        text = json.dumps(body, separators=(",", ":")) if body is not None else ""
        headers = sign_headers(api_key=connection.api_key, secret=connection.api_secret,
                               passphrase=connection.api_passphrase, method=method, path_with_query=path_with_query,
                               body=text, partner=self.partner, broker_key=self.broker_key)
        with self.session() as session:
            response = session.request(method, self.url(path_with_query), data=text or None, headers=headers)
        payload = json_or_empty(response)
        if payload.get("code") != "200000":
            raise ExchangeAPIError(payload.get("msg", f"HTTP {response.status_code}"), code=str(payload.get("code", "")))
        return payload["data"]

    def usdt_prices(self, currencies):
        payload = self.public_get("/api/v1/prices", {"base": "USDT", "currencies": ",".join(currencies)})
        return {code: Decimal(price) for code, price in (payload.get("data") or {}).items() if code in currencies}

    def balances(self, connection):
        totals: dict[str, list[Decimal]] = {}
        for account in self.signed(connection, "GET", "/api/v1/accounts"):
            available, total = totals.setdefault(account["currency"], [Decimal(0), Decimal(0)])
            totals[account["currency"]] = [available + Decimal(account["available"]),
                                           total + Decimal(account["balance"])]
        return [Balance(currency, available, total) for currency, (available, total) in sorted(totals.items())]
