"""What differs between the simulated exchanges, as data: lifetimes, scopes, currencies, prices."""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

KUCOIN_AUTH_GROUPS = [
    "API_COMMON",
    "API_SPOT",
    "API_MARGIN",
    "API_FUTURES",
    "API_EARN",
    "API_TRANSFER",
    "API_WITHDRAW_OAUTH",
]
# The groups ticked when KuCoin's consent page opens: KuCoin's announced defaults ("Default permissions for spot
# trading, futures trading, and KuCoin Earn access"); the others, withdrawal above all, are opted in to.
KUCOIN_DEFAULT_GROUPS = {"API_COMMON", "API_SPOT", "API_FUTURES", "API_EARN"}
# How KuCoin's consent page names each group: the broker guide's list ("Margin Trading permission", "Futures
# Trading permission", "Flexible transfers permission") and its API key page's names for the rest (level C).
KUCOIN_GROUP_NAMES = {
    "API_COMMON": "General",
    "API_SPOT": "Spot Trading",
    "API_MARGIN": "Margin Trading",
    "API_FUTURES": "Futures Trading",
    "API_EARN": "KuCoin Earn",
    "API_TRANSFER": "Flexible Transfers",
    "API_WITHDRAW_OAUTH": "Withdrawal",
}
# What KuCoin's access token itself is for: the login's only scope (Fast API document section 7.1
# "scope=OAUTH_CREATE_API", 7.3's answer "scope": ["OAUTH_CREATE_API"]); the groups are not OAuth scopes.
KUCOIN_TOKEN_SCOPE = "OAUTH_CREATE_API"

OKX_SCOPES = ["read_only", "trade", "fast_api"]

KRAKEN_KEY_PERMISSIONS = [
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
]
# The scopes of krakenfx/api-specs oauth/openapi_v3.yaml (securitySchemes.OAuth2), plus account.fast-api-key:read,
# which listFastApiKey requires; the withdrawal-address scopes are commented out there, so unknown here.
KRAKEN_SCOPES = [
    "account.info:basic",
    "account.fast-api-key:write",
    "account.fast-api-key:read",
    *[f"account.fast-api-key:{permission.replace('_', '-')}" for permission in KRAKEN_KEY_PERMISSIONS],
]


# The languages of Kraken's authorization page: krakenfx/api-specs oauth/openapi_v3.yaml,
# getOAuthCodeWithLanguage, GET /{language}/oauth/authorize, the enum of its path parameter.
KRAKEN_AUTHORIZE_LANGUAGES = [
    "en-us",
    "es-es",
    "fil-ph",
    "fr",
    "de",
    "it-it",
    "nl",
    "pl",
    "pt-br",
    "ru-ru",
    "tr-tr",
    "uk-ua",
    "vi-vn",
    "zh-cn",
]


def kraken_scope_for(permission: str) -> str:
    """A Fast API key permission may only be given if the user granted its scope."""
    return f"account.fast-api-key:{permission.replace('_', '-')}"


PEATIO_SCOPES = ["profile", "history", "trade"]


# How each exchange separates scopes, after the query string is decoded. A '+' in a query string is a
# space (Peatio's documented ``scope=profile+history+trade``); an encoded '+' (%2B) is part of a scope name.
SPACES = r"\s+"
SPACES_OR_COMMAS = r"[\s,]+"


def split_scope(raw: str, separators: str = SPACES_OR_COMMAS) -> list[str]:
    return [item for item in re.split(separators, raw or "") if item]


@dataclass(frozen=True)
class ExchangeProfile:
    name: str
    title: str
    known_scopes: list[str]
    access_ttl: timedelta
    refresh_ttl: timedelta
    public_access_ttl: timedelta | None = None  # Kraken: public clients get shorter tokens
    code_ttl: timedelta = timedelta(minutes=5)
    state_required: bool = False
    pkce_required_for_public: bool = False
    token_client_auth: str = "body"  # "body" (client_id + client_secret params) or "basic"
    default_scopes: list[str] = field(default_factory=list)
    token_type: str = "Bearer"
    scope_in_token_response: str = ""  # "list" (KuCoin), "text" (space-separated) or "" (absent)
    scope_separators: str = SPACES_OR_COMMAS  # a regular expression, see split_scope
    # OKX Fast API: authorization code only (no PKCE, no public client), scope must include fast_api, access_type
    # offline; a JSON token request; no refresh token.
    pkce_allowed: bool = True
    public_clients_allowed: bool = True
    required_scopes: tuple[str, ...] = ()
    required_authorize_params: tuple[tuple[str, str], ...] = ()
    token_request_format: str = "any"  # "json": a form body is refused
    issues_refresh_token: bool = True
    # Kraken: "If empty, all scopes registered for your Client ID will be requested" (openapi_v3.yaml, Scope).
    empty_scope_is_registered: bool = False
    # Kraken: once client and redirect URI are known good, errors go back to it as ?error=...&state=... with
    # RFC 6749's codes (openapi_v3.yaml, OAuthAuthorizeRedirect); otherwise an error page.
    authorize_errors_redirect: bool = False

    def split_scope(self, raw: str) -> list[str]:
        return split_scope(raw, self.scope_separators)

    def access_ttl_for(self, client) -> timedelta:
        if client.is_public and self.public_access_ttl:
            return self.public_access_ttl
        return self.access_ttl


PROFILES = {
    "kucoin": ExchangeProfile(
        name="kucoin",
        title="KuCoin",
        known_scopes=[KUCOIN_TOKEN_SCOPE],
        access_ttl=timedelta(hours=1),
        refresh_ttl=timedelta(days=3),
        state_required=True,
        default_scopes=[KUCOIN_TOKEN_SCOPE],
        token_type="bearer",
        scope_in_token_response="list",
    ),
    # okx/builder-integration-demo, demos/third-party-fastapi/INTEGRATION_GUIDE.md ("Hard Constraints", step 1 and
    # step 3): authorization code only with access_type=offline and scope=fast_api, no PKCE; the token call is JSON
    # and answers {access_token, token_type: "bearer", expires_in: 3600} with no refresh token.
    "okx": ExchangeProfile(
        name="okx",
        title="OKX",
        known_scopes=OKX_SCOPES,
        access_ttl=timedelta(hours=1),
        refresh_ttl=timedelta(hours=1),  # never issued: nothing outlives the access token
        token_type="bearer",
        pkce_allowed=False,
        public_clients_allowed=False,
        required_scopes=("fast_api",),
        required_authorize_params=(("access_type", "offline"),),
        token_request_format="json",
        issues_refresh_token=False,
    ),
    "kraken": ExchangeProfile(
        name="kraken",
        title="Kraken",
        known_scopes=KRAKEN_SCOPES,
        access_ttl=timedelta(hours=24),
        public_access_ttl=timedelta(hours=4),
        refresh_ttl=timedelta(days=30),
        token_client_auth="basic",
        scope_in_token_response="text",
        scope_separators=SPACES,  # "scope space-separated"
        empty_scope_is_registered=True,
        authorize_errors_redirect=True,
    ),
    "peatio": ExchangeProfile(
        name="peatio",
        title="EXchange",
        known_scopes=PEATIO_SCOPES,
        access_ttl=timedelta(hours=4),
        refresh_ttl=timedelta(days=30),
        token_type="bearer",
        scope_in_token_response="text",
        scope_separators=SPACES,  # Doorkeeper: the documented '+' is an encoded space
    ),
}


@dataclass(frozen=True)
class Chain:
    chain_id: str
    name: str
    withdrawal_fee: Decimal
    withdrawal_min_size: Decimal
    confirmations: int = 12
    deposit_min_size: Decimal = Decimal("0")
    # A memo chain: every account deposits to the exchange's one address, told apart by its memo (TON, as KuCoin's
    # "memo(tag)" and OKX's/Kraken's memo fields describe).
    memo_required: bool = False


@dataclass(frozen=True)
class Currency:
    code: str
    full_name: str
    precision: int  # withdrawal precision (decimal places)
    price_usdt: Decimal
    chains: list[Chain]
    kraken_code: str

    def chain(self, chain_id: str | None) -> Chain | None:
        if not chain_id:
            return self.chains[0]
        return next((chain for chain in self.chains if chain.chain_id == chain_id.lower()), None)


CURRENCIES = {
    "BTC": Currency(
        "BTC",
        "Bitcoin",
        8,
        Decimal("65000"),
        [Chain("btc", "BTC", Decimal("0.0005"), Decimal("0.001"), 3, Decimal("0.0001"))],
        "XXBT",
    ),
    "ETH": Currency(
        "ETH",
        "Ethereum",
        8,
        Decimal("3200"),
        [
            Chain("eth", "ERC20", Decimal("0.002"), Decimal("0.01"), 12, Decimal("0.005")),
            Chain("arbitrum", "ARBITRUM", Decimal("0.0002"), Decimal("0.002"), 12, Decimal("0.001")),
        ],
        "XETH",
    ),
    "USDT": Currency(
        "USDT",
        "Tether",
        6,
        Decimal("1"),
        [
            Chain("trx", "TRC20", Decimal("1"), Decimal("10"), 12, Decimal("1")),
            Chain("eth", "ERC20", Decimal("5"), Decimal("20"), 12, Decimal("5")),
            Chain("ton", "TON", Decimal("0.5"), Decimal("5"), 12, Decimal("1"), memo_required=True),
        ],
        "USDT",
    ),
    "SOL": Currency(
        "SOL",
        "Solana",
        8,
        Decimal("150"),
        [Chain("sol", "SOL", Decimal("0.008"), Decimal("0.1"), 1, Decimal("0.01"))],
        "SOL",
    ),
}
KRAKEN_ALIASES = {"XBT": "BTC", "XXBT": "BTC", "XETH": "ETH", "ETH": "ETH", "USDT": "USDT", "SOL": "SOL"}


def kraken_deposit_method(found: Currency, chain: Chain) -> str:
    """Kraken names a deposit method for its network ("Bitcoin" in spot-rest's DepositMethods example; a token on
    several networks names each one)."""
    return found.full_name if len(found.chains) == 1 else f"{found.full_name} ({chain.name})"


def currency(code: str) -> Currency | None:
    return CURRENCIES.get((code or "").upper())


def kraken_currency(code: str) -> Currency | None:
    return currency(KRAKEN_ALIASES.get((code or "").upper(), ""))


# Currencies the sandbox quotes at its public tickers without holding or moving them: USDC, the stablecoin a
# tenant may show its totals in. Each exchange lists it against USDT as a spot pair (OKX USDC-USDT, KuCoin
# USDC-USDT and its /api/v1/prices, Kraken USDCUSDT); its sandbox price sits just off the peg, so that a value
# converted into it differs from the USDT figure.
QUOTED_ONLY_USDT = {"USDC": Decimal("0.9998")}


def ticker_price_usdt(code: str) -> Decimal | None:
    """The price a public ticker quotes for ``code`` in USDT: a sandbox currency's, or a quoted-only one's."""
    found = currency(code)
    return found.price_usdt if found else QUOTED_ONLY_USDT.get((code or "").upper())


def price_usdt(code: str) -> Decimal:
    found = currency(code)
    return found.price_usdt if found else Decimal("0")


# Starting balances of every seeded account.
STARTING_BALANCES = {"BTC": Decimal("1.5"), "ETH": Decimal("20"), "USDT": Decimal("25000"), "SOL": Decimal("300")}
