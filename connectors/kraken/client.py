"""Kraken's Fast API key and private REST calls (API-Key, API-Sign over the nonce)."""

import base64
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

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
from connectors.base.http import ExchangeUnavailable, retry_after

SCOPE_PREFIX = "account.fast-api-key:"
KEY_PERMISSIONS = (
    "export_data",
    "funds_add",
    "funds_earn",
    "funds_query",
    "funds_withdraw",
    "ledger_query",
    "trades_close",
    "trades_modify",
    "trades_query_closed",
    "trades_query_open",
)
# Kraken's asset codes for the currencies the portal shows, and the portal's codes Kraken spells its own way.
ASSET_CODES = {"XXBT": "BTC", "XBT": "BTC", "XETH": "ETH", "ZUSD": "USD", "ZEUR": "EUR"}
KRAKEN_CODES = {"BTC": "XBT"}
# Refusals of the deposit calls: the key lacks a permission; the asset or the method is not Kraken's (the strings
# for these two are not in Kraken's spec: both spellings seen are read).
PERMISSION_DENIED = "EGeneral:Permission denied"
UNKNOWN_ASSET = {"EFunding:Unknown asset", "EQuery:Unknown asset"}
UNKNOWN_METHOD = {"EFunding:Invalid method", "EGeneral:Invalid arguments:method"}


def sign(secret_b64: str, uri_path: str, nonce: str, post_data: str) -> str:
    digest = hashlib.sha256((nonce + post_data).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def key_permissions(scopes: list[str]) -> dict[str, bool]:
    """The Fast API key may do what the user granted: account.fast-api-key:funds-query → funds_query."""
    granted = {scope[len(SCOPE_PREFIX) :].replace("-", "_") for scope in scopes if scope.startswith(SCOPE_PREFIX)}
    return {permission: permission in granted for permission in KEY_PERMISSIONS}


# Kraken answers errors with HTTP 200 and an "error" list; an access token that ran out (or that a refresh
# replaced, as a sibling's may have) is "EOAuth:Invalid token (<reason>)". Both mean: refresh once, retry.
TOKEN_REFUSED = {"EOAuth:Invalid token (expired)", "EOAuth:Invalid token (revoked)"}


# Rate limits come the same way, HTTP 200 with an error: the call was turned away unexecuted, as a 429 would be.
RATE_LIMITED = {"EAPI:Rate limit exceeded", "EGeneral:Too many requests"}
# Kraken sends no Retry-After; its call counter drains by at least a third of a call per second.
RATE_LIMIT_RETRY_AFTER = 5.0  # seconds


def errors_of(payload: dict) -> list[str]:
    errors = payload.get("error") or []
    return [str(error) for error in errors] if isinstance(errors, list) else [str(errors)]


def answer_of(response) -> dict:
    """The JSON object Kraken answered a private or Fast API call with; a rate limit is ExchangeUnavailable."""
    payload = json_or_empty(response)
    errors = errors_of(payload)
    if RATE_LIMITED.intersection(errors):
        raise ExchangeUnavailable(
            f"Kraken is limiting requests ({', '.join(errors)}).",
            retry_after=retry_after(response) or RATE_LIMIT_RETRY_AFTER,
        )
    return payload


def bearer_answer_of(response) -> dict:
    """The answer to a call made with the user's access token (the Fast API key's): as answer_of, and a refused
    token is AccessTokenExpired, so the caller refreshes once and retries."""
    payload = answer_of(response)
    errors = errors_of(payload)
    if response.status_code == 401 or TOKEN_REFUSED.intersection(errors):
        raise AccessTokenExpired(", ".join(errors) or "Access token refused.", code=errors[0] if errors else "")
    return payload


def key_name() -> str:
    """A name for a new Fast API key, unique among the user's keys: Kraken deletes a key by its name
    (krakenfx/api-specs oauth/openapi_v3.yaml, removeFastApikey: JSON body {api_key_name}, 1-32 characters),
    and on a reconnect the new key is made while the old one still exists. The time makes it unique per
    connect, the random part per connect within one second; 24 characters."""
    return f"portal-{int(time.time())}-{secrets.token_hex(3)}"


# Where the connection keeps its key's name (not a secret; the key and its secret stay encrypted).
KEY_NAME_DETAIL = "api_key_name"
# The public account identifier is userinfo's IIBAN (openapi_v3.yaml, getOAuthInfo), behind this scope.
ACCOUNT_INFO_SCOPE = "account.info:basic"


class KrakenAPI(ExchangeAPI):
    def account_id(self, access_token, permissions):
        """userinfo's IIBAN, Kraken's public account identifier (openapi_v3.yaml, getOAuthInfo:
        GET /oauth/userinfo, scope account.info:basic -> {result: {email, iban}}).

        Without that scope there is nothing to ask: the connection then has no account id, so the user has
        one Kraken connection here (as for an exchange that does not tell who the account is)."""
        if ACCOUNT_INFO_SCOPE not in permissions:
            return ""
        with self.session() as session:
            response = session.get(self.url("/oauth/userinfo"), headers={"Authorization": f"Bearer {access_token}"})
        payload = bearer_answer_of(response)
        if errors_of(payload):
            raise ExchangeAPIError(
                f"Kraken would not tell the account: {', '.join(errors_of(payload))}", code=errors_of(payload)[0]
            )
        (iban,) = required_texts(payload.get("result"), ("iban",), answer="Kraken's user info")
        return iban

    def create_api_key(self, access_token, permissions, flow_data):
        if SCOPE_PREFIX + "write" not in permissions:
            return None  # without this scope Kraken lets no one create the key
        name = key_name()
        # openapi_v3.yaml, createFastAPIKey: JSON APIKeyParameters -> result{secret, api_key, id, api_key_name, ...}
        with self.session() as session:
            response = session.post(
                self.url("/oauth/fast-api-key"),
                headers={"Authorization": f"Bearer {access_token}"},
                json={
                    "api_key_name": name,
                    "permissions": key_permissions(permissions),
                    "ip_allowlist": self.settings.get("trading_ip_list", []),
                    "nonce_window": 0,
                },
            )
        payload = bearer_answer_of(response)
        if errors_of(payload):
            raise ApiKeyRefused(f"Kraken would not create the API key: {', '.join(errors_of(payload))}")
        result = payload.get("result", payload)
        key, secret = required_texts(result, ("api_key", "secret"), answer="Kraken's answer to the API key request")
        return ApiKey(
            key=key,
            secret=secret,
            key_id=str(result.get("id") or ""),
            details={KEY_NAME_DETAIL: name},
            permissions=[p for p, allowed in key_permissions(permissions).items() if allowed],
        )

    def stored_key_name(self, access_token, connection) -> str:
        """The name of the connection's key: the one stored, else (a key made before names were stored) the
        one listFastApiKey (GET /oauth/fast-api-key, scope account.fast-api-key:read) gives for its id."""
        name = (connection.details or {}).get(KEY_NAME_DETAIL)
        if name or not connection.api_key_id or SCOPE_PREFIX + "read" not in (connection.permissions or []):
            return name or ""
        with self.session() as session:
            response = session.get(self.url("/oauth/fast-api-key"), headers={"Authorization": f"Bearer {access_token}"})
        listed = bearer_answer_of(response).get("result")
        return next(
            (
                str(item.get("api_key_name") or "")
                for item in listed or []
                if isinstance(item, dict) and item.get("id") == connection.api_key_id
            ),
            "",
        )

    def delete_api_key(self, access_token, connection, details=None):
        """openapi_v3.yaml, removeFastApikey: DELETE /oauth/fast-api-key with the JSON body {api_key_name}
        -> {result: true}; there is no delete by id. A key whose name is not known cannot be named."""
        name = self.stored_key_name(access_token, connection)
        if not name:
            return False
        with self.session() as session:
            response = session.delete(
                self.url("/oauth/fast-api-key"),
                json={"api_key_name": name},
                headers={"Authorization": f"Bearer {access_token}"},
            )
        payload = bearer_answer_of(response)
        return response.status_code == 200 and not errors_of(payload) and payload.get("result") is True

    def private(self, connection, method: str, params: dict | None = None) -> dict:
        uri_path = f"/0/private/{method}"
        nonce = str(time.time_ns() // 1000)  # strictly increasing per key
        post_data = urlencode({"nonce": nonce, **(params or {})})
        headers = {
            "API-Key": connection.api_key,
            "API-Sign": sign(connection.api_secret, uri_path, nonce, post_data),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        with self.session() as session:
            response = session.post(self.url(uri_path), data=post_data, headers=headers)
        payload = answer_of(response)
        errors = errors_of(payload)
        if errors:
            raise ExchangeAPIError(", ".join(errors), code=errors[0])
        return payload.get("result", {})

    def usdt_prices(self, currencies):
        pairs = {f"{'XBT' if code == 'BTC' else code}USDT": code for code in currencies}
        payload = self.public_get("/0/public/Ticker", {"pair": ",".join(pairs)})
        if payload.get("error"):
            return {}
        return {
            pairs[pair]: Decimal(ticker["c"][0]) for pair, ticker in payload.get("result", {}).items() if pair in pairs
        }

    def balances(self, connection):
        return [
            Balance(ASSET_CODES.get(asset, asset), Decimal(amount), Decimal(amount))
            for asset, amount in sorted(self.private(connection, "Balance").items())
        ]

    # Deposit addresses: krakenfx/api-specs (branch feature/openapi-spec) spot-rest/openapi_v3.yaml. DepositMethods
    # (one method per network; needs "Funds permissions - Query and Funds permissions - Deposit") and
    # DepositAddresses (asset, method, new; "Funds permissions - Query"): the key's funds_query and funds_add, which
    # the scopes ...:funds-query and ...:funds-add grant.
    deposit_addresses_offered = True
    deposit_address_creatable = True
    deposit_permissions = (SCOPE_PREFIX + "funds-query", SCOPE_PREFIX + "funds-add")

    def deposit_networks(self, connection, asset):
        methods = self.deposit_call(connection, "DepositMethods", {"asset": KRAKEN_CODES.get(asset, asset)}, asset)
        # schemas/objects/funding/deposits/method.yaml: method, limit, fee, address-setup-fee, gen-address, minimum.
        return [
            DepositNetwork(
                id=item["method"],
                name=item["method"],
                minimum=decimal_or_none(item.get("minimum")),
                creatable=item.get("gen-address", True) is not False,
            )
            for item in methods or []
            if isinstance(item, dict) and isinstance(item.get("method"), str)
        ]

    def deposit_address(self, connection, asset, network, create=False):
        params = {"asset": KRAKEN_CODES.get(asset, asset), "method": network.id}
        if create:
            params["new"] = "true"
        listed = self.deposit_call(connection, "DepositAddresses", params, asset)
        # schemas/objects/funding/deposits/address.yaml: address, expiretm (0: none), new, tag (XRP's tag and the
        # memos of STX, XLM, EOS; the spec's example answers a memo as "memo").
        item = next((item for item in listed or [] if isinstance(item, dict) and item.get("address")), None)
        if item is None:
            return None
        memo, label = (item["tag"], "Tag") if item.get("tag") else (item.get("memo") or "", "Memo")
        expires = int(item.get("expiretm") or 0) if str(item.get("expiretm") or "0").isdigit() else 0
        return DepositAddress(
            asset=asset,
            network=network,
            address=item["address"],
            memo=str(memo),
            memo_label=label,
            expires_at=datetime.fromtimestamp(expires, tz=UTC) if expires else None,
            created=create,
        )

    def deposit_call(self, connection, method: str, params: dict, asset: str):
        try:
            return self.private(connection, method, params)
        except ExchangeAPIError as error:
            if error.code == PERMISSION_DENIED:
                raise DepositAddressRefused(
                    "Kraken refused: this connection's key lacks the “Balances” or “Deposit” permission.",
                    reason=DepositAddressRefused.PERMISSION,
                    code=error.code,
                ) from error
            if error.code in UNKNOWN_ASSET:
                raise DepositAddressRefused(
                    f"Kraken does not list {asset}.", reason=DepositAddressRefused.UNKNOWN_ASSET, code=error.code
                ) from error
            if error.code in UNKNOWN_METHOD:
                raise DepositAddressRefused(
                    f"Kraken offers no such network for {asset}.",
                    reason=DepositAddressRefused.UNKNOWN_NETWORK,
                    code=error.code,
                ) from error
            raise
