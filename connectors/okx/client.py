"""OKX's Fast API key and signed REST calls (OK-ACCESS-* headers)."""

import base64
import hashlib
import hmac
import json
import secrets
import string
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings

from connectors.base.api import (
    AccessTokenExpired,
    ApiKey,
    ApiKeyInvalid,
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

from .regions import regional_api_base_url

KEY_LABEL = "broker-portal"
# Fast API key codes: okx/builder-integration-demo, demos/third-party-fastapi/PITFALLS.md ("Error Codes") and
# INTEGRATION_GUIDE.md (steps 4 and 5).
NO_KEY_TO_DELETE = "59506"  # "API Key does not exist": normal during delete-before-create
ONE_KEY_PER_USER = "50116"  # "Fast API can create only one API Key"
NOT_AN_API_BROKER = "50117"  # "Only API Brokers can create Fast API Keys"
BOUND_KEY_NEEDS_IP_ALLOWLIST = "50118"  # "Bound API Key requires Broker IP allowlist"
# Level C (exchange-docs/ENDPOINTS.md, "reported"): an expired or revoked access token on a Bearer call.
TOKEN_EXPIRED_CODES = {"53002", "53003"}
# A signed call's answer that the API key itself is no longer valid. 50111 "Invalid OK-ACCESS-KEY" (HTTP 401) is
# OKX's own: okx/agent-trade-kit, packages/cli/src/commands/diagnose.ts ("API key is invalid or expired") and
# packages/core/src/client/rest-client.ts (AuthenticationError), and OKX's error-code tables.
INVALID_API_KEY_CODES = {"50111"}
# Level C: 50119 "API key doesn't exist" rests on public integrations only, so it is the setting
# OKX_EXTRA_INVALID_API_KEY_CODES (default ("50119",)).
# OKX's codes for a key that lacks the permission and for a bad parameter (here: the ccy), as its error tables and
# the sandbox use them.
PERMISSION_DENIED = "50120"
PARAMETER_ERROR = "51000"


def invalid_api_key_codes() -> set[str]:
    return INVALID_API_KEY_CODES | set(settings.OKX_EXTRA_INVALID_API_KEY_CODES)


def fast_api_perm(permissions: list[str]) -> str:
    """The key's ``perm``: "read_only" or "trade" (INTEGRATION_GUIDE.md step 5), the widest the user chose."""
    return "trade" if "trade" in permissions else "read_only"


def okx_timestamp(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def sign(secret: str, timestamp: str, method: str, request_path: str, body: str) -> str:
    message = f"{timestamp}{method.upper()}{request_path}{body}"
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


def new_passphrase() -> str:
    """8–32 characters with upper, lower, digit and special, as OKX requires."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return (
        core
        + secrets.choice(string.ascii_uppercase)
        + secrets.choice(string.ascii_lowercase)
        + secrets.choice(string.digits)
        + secrets.choice("!@#$%^&*")
    )


class OKXAPI(ExchangeAPI):
    one_key_per_user = True  # "One Broker can have only one active Fast API Key for one user" (INTEGRATION_GUIDE.md)
    # "access_token is used only to create the Fast API Key. It lasts 1 hour and has no refresh token. The created
    # API Key is the long-lived credential." (INTEGRATION_GUIDE.md, Hard Constraints)
    credential_is_api_key = True
    # "Editing or deleting keys on OKX itself requires the user to log in to OKX." (INTEGRATION_GUIDE.md, Unbinding);
    # where: "Log in to your OKX account and go to Profile > API" (OKX's API FAQ, okx.com/help/api-faq).
    api_key_removal_hint = (
        f"OKX lets this portal delete the API key only within an hour of connecting, so the key "
        f"is still at OKX. To remove it, sign in at OKX, open Profile → API and delete the key "
        f"labelled “{KEY_LABEL}”."
    )

    def base_url_for(self, details: dict) -> str:
        """The user's OKX site where the authorization callback named one (checked again on every use), else the
        credential's API base URL."""
        return regional_api_base_url(self.settings, details["domain"]) if details.get("domain") else self.base_url

    def bearer_post(self, path: str, access_token: str, body: dict | None, details: dict) -> dict:
        """A Fast API management call with the access token (INTEGRATION_GUIDE.md steps 4 and 5)."""
        base_url = self.base_url_for(details)
        headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}
        with exchange_session(allowed_base_urls=[base_url], hosts=self.settings.get("call_hosts")) as session:
            response = session.post(base_url + path, json=body, headers=headers)
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
        # Always a bound key (bindApp: true); 50118 is fixed at OKX, never by an unbound key (PITFALLS.md 3).
        body = {"label": KEY_LABEL, "passphrase": new_passphrase(), "perm": fast_api_perm(permissions), "bindApp": True}
        try:
            data = self.bearer_post("/api/v5/users/oauth/apikey", access_token, body, flow_data)
        except AccessTokenExpired:
            raise
        except ExchangeAPIError as error:  # noqa: B014 (AccessTokenExpired is one, and passes above)
            raise api_key_refusal(error)
        key, secret, passphrase = required_texts(
            data, ("apiKey", "secretKey", "passphrase"), answer="OKX's answer to the API key request"
        )
        perm = data.get("perm")
        return ApiKey(
            key=key,
            secret=secret,
            passphrase=passphrase,
            key_id=key,
            permissions=[p for p in perm.split(",") if p] if isinstance(perm, str) else [],
        )

    def delete_api_key(self, access_token, connection, details=None) -> bool:
        """Delete the user's Fast API key for this broker (one at most): True if one was deleted, False where OKX
        answers 59506 (there was none). The call names no key: OKX's demo sends the Bearer token only."""
        if details is None:
            details = connection.details if connection is not None else {}
        try:
            self.bearer_post("/api/v5/users/oauth/delete-apikey", access_token, None, details)
        except AccessTokenExpired:
            raise
        except ExchangeAPIError as error:  # noqa: B014 (AccessTokenExpired is one, and passes above)
            if error.code == NO_KEY_TO_DELETE:
                return False
            raise
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
        with exchange_session(allowed_base_urls=[base_url], hosts=self.settings.get("call_hosts")) as session:
            response = session.request(method, base_url + path_with_query, data=text or None, headers=headers)
        payload = json_or_empty(response)
        code = str(payload.get("code", ""))
        if code in invalid_api_key_codes():
            raise ApiKeyInvalid(payload.get("msg") or "OKX no longer accepts this API key.", code=code)
        if code != "0":
            # A batch-style answer ("All operations failed", code 1 or 2) says why in each item's sCode and sMsg.
            item = next(iter(payload.get("data") or []), None)
            if code in ("1", "2") and isinstance(item, dict) and item.get("sCode") not in (None, "", "0"):
                raise ExchangeAPIError(str(item.get("sMsg") or payload.get("msg") or ""), code=str(item["sCode"]))
            raise ExchangeAPIError(payload.get("msg", f"HTTP {response.status_code}"), code=code)
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

    # Deposit addresses: GET /api/v5/asset/deposit-address?ccy= (OKX's SDK okxapi/python-okx, okx/Funding.py
    # get_deposit_address; it has no call that creates one: OKX gives every account an address on each chain),
    # "Permission: Read", which every Fast API key has (read_only and trade). The chains and their minimum deposit
    # come from GET /api/v5/asset/currencies (Funding.py get_currencies; minDep and canDep as docs-v5 names them).
    deposit_addresses_offered = True

    def deposit_networks(self, connection, asset):
        rows = self.asset_rows(connection, "/api/v5/asset/currencies", asset)
        return [
            DepositNetwork(
                id=row["chain"],
                name=chain_name(row["chain"], asset),
                minimum=decimal_or_none(row.get("minDep")),
                memo_required=bool(row.get("needTag")),
                enabled=row.get("canDep", True) is not False,
            )
            for row in rows
            if row.get("ccy", asset) == asset and isinstance(row.get("chain"), str)
        ]

    def deposit_address(self, connection, asset, network, create=False):
        if create:
            raise DepositAddressRefused(
                "OKX makes the addresses itself: there is none to create.", reason=DepositAddressRefused.NOT_CREATABLE
            )
        row = next(
            (
                row
                for row in self.asset_rows(connection, "/api/v5/asset/deposit-address", asset)
                if row.get("chain") == network.id and row.get("addr")
            ),
            None,
        )
        if row is None:
            return None
        # Only the chains that need one return tag, memo, pmtId or addrEx (e.g. TON's {"comment": ...}).
        memo, label = next(
            (
                (row[name], label)
                for name, label in (("tag", "Tag"), ("memo", "Memo"), ("pmtId", "Payment ID"))
                if row.get(name)
            ),
            ("", "Memo"),
        )
        if not memo and isinstance(row.get("addrEx"), dict) and row["addrEx"]:
            label, memo = next(iter(row["addrEx"].items()))
            label = str(label).capitalize()
        return DepositAddress(asset=asset, network=network, address=row["addr"], memo=str(memo), memo_label=label)

    def asset_rows(self, connection, path: str, asset: str) -> list[dict]:
        try:
            rows = self.signed(connection, "GET", f"{path}?{urlencode({'ccy': asset})}")
        except ExchangeAPIError as error:
            if error.code == PERMISSION_DENIED:
                raise DepositAddressRefused(
                    "OKX refused: this connection's API key may not read funding data.",
                    reason=DepositAddressRefused.PERMISSION,
                    code=error.code,
                ) from error
            if error.code == PARAMETER_ERROR:
                raise DepositAddressRefused(
                    f"OKX does not list {asset}.", reason=DepositAddressRefused.UNKNOWN_ASSET, code=error.code
                ) from error
            raise
        rows = [row for row in rows or [] if isinstance(row, dict)]
        if not rows:
            raise DepositAddressRefused(f"OKX does not list {asset}.", reason=DepositAddressRefused.UNKNOWN_ASSET)
        return rows


def chain_name(chain: str, asset: str) -> str:
    """OKX names a chain "USDT-TRC20": the network is what follows the currency."""
    return chain[len(asset) + 1 :] if chain.startswith(f"{asset}-") else chain


def api_key_refusal(error: ExchangeAPIError) -> ApiKeyRefused:
    """What the user is told when OKX would not create the key, and who can fix it (PITFALLS.md, Error Codes)."""
    if error.code == ONE_KEY_PER_USER:
        return ApiKeyRefused(
            "OKX allows one API key per user for this broker, and your OKX account still has one. Sign in at OKX, "
            f"open Profile → API, delete the key labelled “{KEY_LABEL}”, then connect again.",
            code=error.code,
        )
    if error.code == NOT_AN_API_BROKER:
        return ApiKeyRefused(
            "OKX did not let this broker create API keys (OKX 50117: only API brokers may). This is for the broker "
            "to settle with OKX, not for you; its administrators have been told. Nothing was connected.",
            code=error.code,
            audience="broker_admin",
        )
    if error.code == BOUND_KEY_NEEDS_IP_ALLOWLIST:
        return ApiKeyRefused(
            "OKX did not let this broker create the API key: its server IP allowlist at OKX is not set up (OKX 50118). "
            "This is for the broker to settle with OKX, not for you; its administrators have been told. Nothing was "
            "connected.",
            code=error.code,
            audience="broker_admin",
        )
    return ApiKeyRefused(f"OKX would not create the API key: {error}", code=error.code)
