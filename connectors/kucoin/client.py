"""KuCoin's Fast API key creation (www host) and signed REST calls (api host; KC-API-* headers, broker attribution)."""

import base64
import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import quote, urlencode

from connectors.base.api import (
    AccessTokenExpired,
    ApiKey,
    ApiKeyRefused,
    Balance,
    DepositAddress,
    DepositAddressRefused,
    DepositNetwork,
    ExchangeAPI,
    ExchangeAPIError,
    decimal_or_none,
    json_or_empty,
    required_texts,
)
from connectors.base.http import exchange_session

from .exchange import EXCHANGE as KUCOIN

PERMISSION_LABELS = {permission.code: permission.label for permission in KUCOIN.permissions}

KEY_VERSION = "3"  # Fast API keys are version 3 keys
MAX_KEYS_MESSAGE = "The number of user's apiKey reaches to the maximum level"
AUTH_GROUPS = ("API_COMMON", "API_SPOT", "API_MARGIN", "API_FUTURES", "API_EARN", "API_TRANSFER", "API_WITHDRAW_OAUTH")
# Key creation (Fast API document section 4; level B): FastAPI 2.0 partners post the groups the user approved,
# old partners post nothing and get the default groups. Which one a broker has is KuCoin's decision per
# partner, so it is the credential setting "key_creation" ("v2" unless set to "v1").
KEY_CREATION_PATHS = {
    "v2": "/_oauth/resource/cyber-truck-vault/v2/outer/api-key/add",
    "v1": "/_oauth/resource/ucenter/outer/api-key/add",
}
# A public integration reports code 40503 when authGroupMap differs from what the user approved on KuCoin's page.
GROUPS_NOT_APPROVED_CODE = "40503"
# "Access denied, require more permission" (KuCoin's error table; the key lacks the group the call needs).
PERMISSION_DENIED_CODE = "400007"


def hmac_b64(secret: str, message: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


def sign_headers(
    *,
    api_key: str,
    secret: str,
    passphrase: str,
    method: str,
    path_with_query: str,
    body: str,
    partner: str,
    broker_name: str,
    broker_key: str,
    timestamp: str | None = None,
) -> dict:
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
        # KuCoin's broker docs and SDKs (level A): the partner id, the broker name KuCoin issued (a value of its
        # own), verification on, and base64(HMAC-SHA256(broker key, timestamp + partner + api key)).
        headers.update(
            {
                "KC-API-PARTNER": partner,
                "KC-BROKER-NAME": broker_name,
                "KC-API-PARTNER-VERIFY": "true",
                "KC-API-PARTNER-SIGN": hmac_b64(broker_key, f"{timestamp}{partner}{api_key}"),
            }
        )
    return headers


class KuCoinAPI(ExchangeAPI):
    @property
    def partner(self) -> str:
        return self.settings.get("partner", "")

    @property
    def broker_name(self) -> str:
        return self.settings.get("broker_name", "")

    @property
    def www_base_url(self) -> str:
        """KuCoin's www host, where the OAuth calls and the key creation go."""
        return self.settings["authorize_base_url"].rstrip("/")

    def create_api_key(self, access_token, permissions, flow_data):
        version = self.settings.get("key_creation") or "v2"
        # v2 asks for exactly the groups the user chose here; v1 takes no parameters.
        body = (
            {"authGroupMap": {group: group in permissions for group in AUTH_GROUPS}, "isAddressbookOnly": False}
            if version == "v2"
            else None
        )
        with exchange_session(allowed_base_urls=[self.www_base_url], hosts=self.settings.get("call_hosts")) as session:
            response = session.post(
                self.www_base_url + KEY_CREATION_PATHS[version],
                json=body,
                headers={"Authorization": f"Bearer {access_token}"},
            )
        payload = json_or_empty(response)
        if response.status_code == 401:
            raise AccessTokenExpired(payload.get("msg", "Access token refused."))
        if not payload.get("success"):
            message = str(payload.get("msg") or f"HTTP {response.status_code}")
            if MAX_KEYS_MESSAGE in message:
                raise ApiKeyRefused(
                    "Your KuCoin account already has the most API keys it may have. Delete an "
                    "unused API key under KuCoin's API Management, then connect again."
                )
            if str(payload.get("code")) == GROUPS_NOT_APPROVED_CODE:
                labels = ", ".join(PERMISSION_LABELS.get(group, group) for group in AUTH_GROUPS if group in permissions)
                raise ApiKeyRefused(
                    f"The permissions you approved on KuCoin's page differ from the ones you chose "
                    f"here. Connect again and approve exactly these on KuCoin's page: {labels}.",
                    code=GROUPS_NOT_APPROVED_CODE,
                )
            raise ApiKeyRefused(f"KuCoin would not create the API key: {message}")
        data = payload.get("data")
        key, secret, passphrase = required_texts(
            data, ("apiKey", "secret", "passphrase"), answer="KuCoin's answer to the API key request"
        )
        groups = data.get("authGroup")
        # "API_COMMON,API_FUTURES,API_SPOT," as section 4 prints it; a list is read the same way.
        groups = groups.split(",") if isinstance(groups, str) else groups if isinstance(groups, list) else []
        groups = [group.strip() for group in groups if isinstance(group, str) and group.strip() in AUTH_GROUPS]
        return ApiKey(
            key=key, secret=secret, passphrase=passphrase, key_id=str(data.get("apiName") or ""), permissions=groups
        )

    def signed(self, connection, method: str, path_with_query: str, body: dict | None = None) -> dict:
        text = json.dumps(body, separators=(",", ":")) if body is not None else ""
        headers = sign_headers(
            api_key=connection.api_key,
            secret=connection.api_secret,
            passphrase=connection.api_passphrase,
            method=method,
            path_with_query=path_with_query,
            body=text,
            partner=self.partner,
            broker_name=self.broker_name,
            broker_key=self.broker_key,
        )
        with self.session() as session:
            response = session.request(method, self.url(path_with_query), data=text or None, headers=headers)
        payload = json_or_empty(response)
        if payload.get("code") != "200000":
            raise ExchangeAPIError(
                payload.get("msg", f"HTTP {response.status_code}"), code=str(payload.get("code", ""))
            )
        return payload["data"]

    def usdt_prices(self, currencies):
        payload = self.public_get("/api/v1/prices", {"base": "USDT", "currencies": ",".join(currencies)})
        return {code: Decimal(price) for code, price in (payload.get("data") or {}).items() if code in currencies}

    def balances(self, connection):
        totals: dict[str, list[Decimal]] = {}
        for account in self.signed(connection, "GET", "/api/v1/accounts"):
            available, total = totals.setdefault(account["currency"], [Decimal(0), Decimal(0)])
            totals[account["currency"]] = [
                available + Decimal(account["available"]),
                total + Decimal(account["balance"]),
            ]
        return [Balance(currency, available, total) for currency, (available, total) in sorted(totals.items())]

    def currency_detail(self, code: str) -> dict:
        """``GET /api/v3/currencies/{currency}`` (public; KuCoin's API docs and universal SDK): the currency and its
        chains, as the withdrawal wizard and the Receive page read them."""
        payload = self.public_get(f"/api/v3/currencies/{quote(code, safe='')}")
        if payload.get("code") != "200000" or not isinstance(payload.get("data"), dict):
            raise ExchangeAPIError(payload.get("msg", "Unknown currency."), code=str(payload.get("code", "")))
        return payload["data"]

    # Deposit addresses: Kucoin/kucoin-universal-sdk spec/rest/api/openapi-account-deposit.json, "Get Deposit
    # Address (V3)" GET /api/v3/deposit-addresses and "Add Deposit Address (V3)" POST /api/v3/deposit-address/create,
    # both x-api-permission "General" (API_COMMON).
    deposit_addresses_offered = True
    deposit_address_creatable = True
    deposit_permissions = ("API_COMMON",)

    def deposit_networks(self, connection, asset):
        try:
            data = self.currency_detail(asset)
        except ExchangeAPIError as error:
            raise DepositAddressRefused(
                f"KuCoin does not list {asset}.", reason=DepositAddressRefused.UNKNOWN_ASSET, code=error.code
            ) from error
        # The chains' depositMinSize, needTag and isDepositEnabled: universal SDK openapi-spot-market.json
        # (Get Currency).
        return [
            DepositNetwork(
                id=chain["chainId"],
                name=chain.get("chainName") or chain["chainId"],
                minimum=decimal_or_none(chain.get("depositMinSize")),
                memo_required=bool(chain.get("needTag")),
                enabled=bool(chain.get("isDepositEnabled", True)),
            )
            for chain in data.get("chains") or []
            if isinstance(chain, dict) and chain.get("chainId")
        ]

    def deposit_address(self, connection, asset, network, create=False):
        try:
            if create:
                # "to": main, the funding account, KuCoin's default.
                items = [
                    self.signed(
                        connection,
                        "POST",
                        "/api/v3/deposit-address/create",
                        {"currency": asset, "chain": network.id, "to": "main"},
                    )
                ]
            else:
                query = urlencode({"currency": asset, "chain": network.id})
                items = self.signed(connection, "GET", f"/api/v3/deposit-addresses?{query}") or []
        except ExchangeAPIError as error:
            if error.code == PERMISSION_DENIED_CODE:
                raise DepositAddressRefused(
                    "KuCoin refused: this connection's key lacks the “General” permission.",
                    reason=DepositAddressRefused.PERMISSION,
                    code=error.code,
                ) from error
            raise
        item = next(
            (
                item
                for item in items
                if isinstance(item, dict) and item.get("address") and item.get("chainId", network.id) == network.id
            ),
            None,
        )
        if item is None:
            return None
        return DepositAddress(
            asset=asset, network=network, address=item["address"], memo=item.get("memo") or "", created=create
        )
