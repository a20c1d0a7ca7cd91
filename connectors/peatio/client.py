"""APIv2 of the Peatio-style exchange: the user token ``access_key:secret_key`` signs each call."""

import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import unquote, urlencode

from connectors.base.api import (
    AccessTokenExpired,
    ApiKey,
    ApiKeyInvalid,
    Balance,
    DepositAddress,
    DepositAddressPending,
    DepositAddressRefused,
    DepositNetwork,
    ExchangeAPI,
    ExchangeAPIError,
    json_or_empty,
)

# hpyhacking/peatio (2017) app/api/api_v2/errors.rb: InvalidAccessKeyError ("The access key ... does not
# exist.") and ExpiredAccessKeyError. A pair replaced by a refresh is 2008, not 2009: Doorkeeper revokes the old
# token and lib/doorkeeper/access_token.rb#revoke destroys its APIToken, which keypair_authenticator.rb#check_token!
# then cannot find. 2009 (DisabledAccessKeyError) is only the member's api_disabled: no fresh pair fixes it.
UNKNOWN_ACCESS_KEY = 2008
DISABLED = 2009
EXPIRED = 2010
INVALID_PARAMETER = 1001  # Grape's validation errors, as errors.rb answers them (HTTP 400)


def sign(secret_key: str, verb: str, path: str, params: dict) -> str:
    # hpyhacking/peatio (2017) keypair_authenticator.rb#canonical_params: sorted by name, to_param, then
    # URI.unescape, so the query is signed unescaped.
    query = unquote(urlencode(sorted((key, value) for key, value in params.items() if key != "signature")))
    return hmac.new(secret_key.encode(), f"{verb.upper()}|{path}|{query}".encode(), hashlib.sha256).hexdigest()


def split_user_token(access_token: str) -> tuple[str, str]:
    access_key, _, secret_key = access_token.partition(":")
    if not access_key or not secret_key:
        raise ExchangeAPIError("The user token is not access_key:secret_key.")
    return access_key, secret_key


class PeatioAPI(ExchangeAPI):
    token_is_api_key = True

    def create_api_key(self, access_token, permissions, flow_data):
        # No separate key to create: the user token is the APIv2 key pair.
        access_key, secret_key = split_user_token(access_token)
        return ApiKey(key=access_key, secret=secret_key, key_id=access_key, permissions=list(permissions))

    def account_id(self, access_token, permissions=()):
        access_key, secret_key = split_user_token(access_token)
        me = self.get_with_keys(access_key, secret_key, "/api/v2/members/me")
        if not isinstance(me, dict):
            raise ExchangeAPIError("The exchange's profile answer was not an object.")
        sn = me.get("sn") or ""
        if not isinstance(sn, (str, int)):
            raise ExchangeAPIError("The exchange's profile answer had an sn that is not an id.")
        return str(sn)

    def revocation_confirmed(self, connection, answered):
        """Doorkeeper 1.4 answers the revocation 200 whatever it did, so only the key pair's death shows it:
        Peatio's AccessToken#revoke (lib/doorkeeper/access_token.rb) destroys the token's APIToken, after
        which a signed call with the pair is refused with 2008. An expired pair (2010) was not revoked: that
        is AccessTokenExpired, so the caller refreshes and revokes again."""
        try:
            self.get(connection, "/api/v2/members/me")
        except AccessTokenExpired:
            raise
        except ExchangeAPIError as refused:
            return refused.code == str(UNKNOWN_ACCESS_KEY)
        return False

    def get_with_keys(self, access_key: str, secret_key: str, path: str, params: dict | None = None):
        signed = {"access_key": access_key, "tonce": str(int(time.time() * 1000)), **(params or {})}
        signed["signature"] = sign(secret_key, "GET", path, signed)
        with self.session() as session:
            response = session.get(self.url(path), params=signed)
        payload = (
            json_or_empty(response) if response.headers.get("Content-Type", "").startswith("application/json") else {}
        )
        error = payload.get("error")
        if error:
            if not isinstance(error, dict):  # the documented form is {"error": {"code", "message"}}
                error = {"message": str(error)}
            if error.get("code") == EXPIRED:
                raise AccessTokenExpired(error.get("message", "Expired."), code=str(EXPIRED))
            if error.get("code") == UNKNOWN_ACCESS_KEY:
                # Revoked, or replaced by a refresh: call_with_fresh_token retries once if a sibling rotated it.
                raise ApiKeyInvalid(str(error.get("message", "Unknown access key.")), code=str(UNKNOWN_ACCESS_KEY))
            if error.get("code") == DISABLED:
                raise ExchangeAPIError(
                    "The exchange has disabled API access for this account; the account "
                    "holder must ask the exchange to enable it.",
                    code=str(DISABLED),
                )
            raise ExchangeAPIError(str(error.get("message", "Refused.")), code=str(error.get("code", "")))
        if response.status_code != 200:
            raise ExchangeAPIError(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise ExchangeAPIError("The exchange's answer was not JSON.")

    def get(self, connection, path: str, params: dict | None = None):
        return self.get_with_keys(connection.api_key, connection.api_secret, path, params)

    def balances(self, connection):
        accounts = self.get(connection, "/api/v2/members/me").get("accounts", [])
        return [
            Balance(
                item["currency"].upper(),
                Decimal(item["balance"]),
                Decimal(item["balance"]) + Decimal(item.get("locked", "0")),
            )
            for item in accounts
        ]

    # Deposit addresses: GET /api/v2/deposit_address (hpyhacking/peatio app/api/api_v2/deposits.rb, 2015-03-31 until
    # the OAuth was removed on 2017-12-22): ``currency`` (Peatio's codes are lower case), no scope of its own. One
    # address per currency (no networks); the first request creates it and a queue fills it in ("The address field
    # could be empty when a new address is generating ... try again later"), so there is nothing to create.
    deposit_addresses_offered = True

    def deposit_networks(self, connection, asset):
        return [DepositNetwork(id="", name=asset, creatable=False)]

    def deposit_address(self, connection, asset, network, create=False):
        if create:
            raise DepositAddressRefused(
                "Peatio makes the address itself: there is none to create.", reason=DepositAddressRefused.NOT_CREATABLE
            )
        try:
            answer = self.get(connection, "/api/v2/deposit_address", {"currency": asset.lower()})
        except ExchangeAPIError as error:
            if error.code == str(INVALID_PARAMETER):
                raise DepositAddressRefused(
                    f"Peatio does not list {asset}.", reason=DepositAddressRefused.UNKNOWN_ASSET, code=error.code
                ) from error
            raise
        # The endpoint returns payment_address.to_json as a String, which Grape's JSON formatter encodes once more
        # (ruby-grape/grape lib/grape/formatter/json.rb): the body is a JSON string holding {account_id,
        # deposit_address}. An object is read as well.
        if isinstance(answer, str):
            try:
                answer = json.loads(answer)
            except ValueError:
                raise ExchangeAPIError("Peatio's deposit address answer was not JSON.")
        if not isinstance(answer, dict):
            raise ExchangeAPIError("Peatio's deposit address answer was not an object.")
        address = answer.get("deposit_address")
        if not address:
            raise DepositAddressPending(f"Peatio is generating your {asset} address; try again in a minute.")
        # app/models/payment_address.rb#memo: a memo coin's address is "address|memo".
        address, _, memo = str(address).partition("|")
        return DepositAddress(asset=asset, network=network, address=address, memo=memo)
