"""Signed calls to an exchange's REST API. Each exchange subclasses ``ExchangeAPI`` with its signing and
the few calls the portal makes; the base holds the session policy and the error mapping."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from broker_portal.errors import PortalError

from .http import exchange_session


class ExchangeAPIError(PortalError):
    """The exchange refused a call; ``code`` is its own error code where it gives one."""

    error_code, http_status = "exchange_refused", 502

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class AccessTokenExpired(ExchangeAPIError):
    """A call met an expired access token (HTTP 401, Peatio's 2010): refresh once and retry."""


class ApiKeyRefused(ExchangeAPIError):
    """The exchange would not create a Fast API key; the message tells the user what to do. ``audience`` says who
    can fix it: "user" (at the exchange), or "broker_admin" (the broker's setup with the exchange)."""

    def __init__(self, message: str, code: str = "", audience: str = "user"):
        super().__init__(message, code=code)
        self.audience = audience


class ApiKeyInvalid(ExchangeAPIError):
    """A signed call was refused because the exchange no longer knows the connection's API key (deleted or revoked
    at the exchange, or expired): only a new connection gives a new key."""


@dataclass(frozen=True)
class ApiKey:
    key: str
    secret: str
    passphrase: str = ""
    key_id: str = ""
    permissions: list[str] = field(default_factory=list)
    # Non-secret facts about the key the connection keeps in its details (Kraken's key name, its handle
    # for deleting the key).
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Balance:
    currency: str
    available: Decimal
    total: Decimal


class DepositAddressRefused(ExchangeAPIError):
    """The exchange will not tell or make a deposit address; ``reason`` says why, the message tells the user."""

    PERMISSION, UNKNOWN_ASSET, UNKNOWN_NETWORK, NOT_CREATABLE = (
        "permission",
        "unknown_asset",
        "unknown_network",
        "not_creatable",
    )

    http_status = 422

    def __init__(self, message: str, *, reason: str, code: str = ""):
        super().__init__(message, code=code)
        self.reason = self.error_code = reason


class DepositAddressPending(ExchangeAPIError):
    """The exchange is still generating the address (Peatio: "try again later")."""

    error_code, http_status = "address_pending", 422


@dataclass(frozen=True)
class DepositNetwork:
    """A network an asset can be deposited on: the exchange's id for it and the name a user reads."""

    id: str
    name: str
    minimum: Decimal | None = None  # the smallest deposit the exchange credits, where it says
    memo_required: bool = False
    enabled: bool = True
    creatable: bool = True  # whether a new address can be made on it (Kraken's gen-address)


@dataclass(frozen=True)
class DepositAddress:
    asset: str
    network: DepositNetwork
    address: str
    memo: str = ""  # memo or tag: without it the deposit is not credited
    memo_label: str = "Memo"
    expires_at: datetime | None = None
    created: bool = False  # made by this request

    @property
    def minimum(self) -> Decimal | None:
        return self.network.minimum


class ExchangeAPI:
    # Whether the OAuth access token itself is the API key pair (Peatio), so a refresh rotates the key too.
    token_is_api_key = False
    # Whether the exchange allows one Fast API key per user and broker (OKX), so that a reconnect must delete
    # the old key before it can make the new one.
    one_key_per_user = False
    # Whether the connection's lasting credential is its API key (OKX Fast API: the access token serves only to
    # create the key and has no refresh token), so no token is ever refreshed and health is the key's health.
    credential_is_api_key = False
    # What the user is told when disconnecting could not delete the key at the exchange (hook; "" for nothing).
    api_key_removal_hint = ""

    def __init__(self, app_settings: dict, *, client_id: str = "", client_secret: str = "", broker_key: str = ""):
        self.settings = app_settings
        self.base_url = app_settings["api_base_url"].rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.broker_key = broker_key

    def session(self):
        return exchange_session(allowed_base_urls=[self.base_url], hosts=self.settings.get("call_hosts"))

    def url(self, path: str) -> str:
        return self.base_url + path

    # Hooks an exchange implements where it has the capability.
    def account_id(self, access_token: str, permissions: list[str] = ()) -> str:
        """The exchange's public identifier of the account, given the token and the permissions granted."""
        return ""

    def account_identity(self, access_token: str, permissions: list[str] = ()) -> dict:
        """``account_id`` and other non-secret facts of who the account is (an e-mail), kept in the connection's
        details; by default the account id alone."""
        account_id = self.account_id(access_token, permissions)
        return {"account_id": account_id} if account_id else {}

    def create_api_key(self, access_token: str, permissions: list[str], flow_data: dict) -> ApiKey | None:
        return None

    def delete_api_key(self, access_token: str, connection, details: dict | None = None) -> bool:
        """Delete the connection's Fast API key at the exchange; False where the exchange cannot. ``details``: the
        current flow's facts (e.g. OKX's site) where they supersede the connection's."""
        return False

    def revocation_confirmed(self, connection, answered: bool) -> bool:
        """Whether the connection's tokens are dead after the revocation call, which ``answered`` HTTP 200 or
        not (hook). By default the exchange's answer is its word; where a 200 proves nothing, the exchange's
        API checks. May raise AccessTokenExpired: the check met an expired token, not a revoked one."""
        return answered

    def balances(self, connection) -> list[Balance]:
        raise NotImplementedError

    def check_api_key(self, connection) -> None:
        """One signed read that shows whether the connection's API key still works; ApiKeyInvalid where not."""
        self.balances(connection)

    def usdt_prices(self, currencies: list[str]) -> dict[str, Decimal]:
        """The exchange's current price in USDT of each currency it quotes (hook; {} where it has none)."""
        return {}

    # Deposit addresses (hooks): whether the portal shows them for this exchange, whether it may ask the exchange for
    # a new one, and the permissions the connection needs (all of them) to read them.
    deposit_addresses_offered = False
    deposit_address_creatable = False
    deposit_permissions: tuple[str, ...] = ()

    def deposit_assets(self, connection) -> list[str]:
        """Assets to suggest on the Receive page (hook): by default those the account holds."""
        return [balance.currency for balance in self.balances(connection)]

    def deposit_networks(self, connection, asset: str) -> list[DepositNetwork]:
        """The networks ``asset`` can be deposited on; DepositAddressRefused for an asset the exchange lacks."""
        raise NotImplementedError

    def deposit_address(
        self, connection, asset: str, network: DepositNetwork, create: bool = False
    ) -> DepositAddress | None:
        """The account's address for ``asset`` on ``network``, or None where it has none yet; ``create`` asks the
        exchange for a new one (only where ``deposit_address_creatable``)."""
        raise NotImplementedError

    def public_get(self, path: str, params: dict | None = None) -> dict:
        with self.session() as session:
            response = session.get(self.url(path), params=params)
        return json_or_empty(response)


def required_texts(data, names: tuple[str, ...], *, answer: str) -> list[str]:
    """The named fields of an exchange's answer, each a non-empty string, in order; where one is missing or of
    another kind, ExchangeAPIError saying which (the exchange's answer is at fault, not the user)."""
    data = data if isinstance(data, dict) else {}
    missing = [name for name in names if not isinstance(data.get(name), str) or not data[name]]
    if missing:
        raise ExchangeAPIError(f"{answer} had no usable {', '.join(missing)}.")
    return [data[name] for name in names]


def json_or_empty(response) -> dict:
    """The JSON object an exchange answered, or {} for anything else (an HTML error page, a bare list)."""
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def decimal_or_none(value) -> Decimal | None:
    """An amount an exchange answered as text or number; None where it gave none or something else."""
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None
