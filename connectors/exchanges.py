"""What the portal knows about each exchange, as data.

Each entry names the exchange, the permissions a user can grant (with what each
means), the defaults a tenant starts from, and the production base URLs. Paths
under a base URL are the exchange's own, so the sandbox mirrors them under
``/sandbox/<exchange>/`` and only the base URL changes between the two.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Permission:
    code: str
    label: str
    description: str


@dataclass(frozen=True)
class Exchange:
    id: str
    name: str
    permissions: tuple[Permission, ...]
    default_permissions: tuple[str, ...]
    authorize_base_url: str
    api_base_url: str
    # Permissions that allow moving funds out; the wizard offers withdrawal only with one.
    withdrawal_permissions: tuple[str, ...] = ()
    # What the exchange's application form asks a broker for.
    application_form: tuple[str, ...] = field(default_factory=tuple)

    @property
    def permission_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.permissions)


KUCOIN = Exchange(
    id="kucoin",
    name="KuCoin",
    permissions=(
        Permission("API_COMMON", "General", "View account information and balances."),
        Permission("API_SPOT", "Spot trading", "Place and cancel spot orders."),
        Permission("API_MARGIN", "Margin trading", "Borrow and trade on margin."),
        Permission("API_FUTURES", "Futures trading", "Place and cancel futures orders."),
        Permission("API_EARN", "KuCoin Earn", "Subscribe to and redeem Earn products."),
        Permission("API_TRANSFER", "Flexible transfers", "Move funds between your KuCoin accounts."),
        Permission("API_WITHDRAW_OAUTH", "Withdrawal", "Withdraw funds, each time confirmed with your KuCoin 2FA."),
    ),
    default_permissions=("API_COMMON", "API_SPOT", "API_FUTURES", "API_EARN"),
    authorize_base_url="https://www.kucoin.com",
    api_base_url="https://api.kucoin.com",
    withdrawal_permissions=("API_WITHDRAW_OAUTH",),
    application_form=("service_ip_list", "trading_ip_list", "redirect_uris"),
)

OKX = Exchange(
    id="okx",
    name="OKX",
    permissions=(
        Permission("read_only", "Read only", "View balances, orders and history."),
        Permission("trade", "Trade", "Place and cancel orders."),
    ),
    default_permissions=("read_only",),
    authorize_base_url="https://www.okx.com",
    api_base_url="https://www.okx.com",
    application_form=("service_ip_list", "redirect_uris", "logo", "allowed_permissions", "cross_domain_name"),
)

KRAKEN = Exchange(
    id="kraken",
    name="Kraken",
    permissions=(
        Permission("account.info:basic", "Account details", "E-mail and public account identifier."),
        Permission("account.fast-api-key:write", "Fast API key", "Create, update and delete the portal's Fast API key."),
        Permission("account.fast-api-key:read", "List Fast API keys", "List your Fast API keys."),
        Permission("account.fast-api-key:funds-query", "Balances", "View account balances."),
        Permission("account.fast-api-key:funds-add", "Deposit", "Deposit funds."),
        Permission("account.fast-api-key:funds-withdraw", "Withdraw", "Withdraw funds to approved addresses."),
        Permission("account.fast-api-key:funds-earn", "Earn", "Transfer funds to Earn."),
        Permission("account.fast-api-key:trades-query-open", "Open orders", "View open orders and trades."),
        Permission("account.fast-api-key:trades-query-closed", "Closed orders", "View closed orders and trades."),
        Permission("account.fast-api-key:trades-modify", "Trade", "Create and modify orders."),
        Permission("account.fast-api-key:trades-close", "Cancel orders", "Cancel and modify orders."),
        Permission("account.fast-api-key:ledger-query", "Ledger", "View ledger history."),
        Permission("account.fast-api-key:export-data", "Export", "Export data."),
    ),
    default_permissions=(
        "account.info:basic",
        "account.fast-api-key:write",
        "account.fast-api-key:funds-query",
        "account.fast-api-key:ledger-query",
        "account.fast-api-key:trades-query-closed",
    ),
    authorize_base_url="https://id.kraken.com",
    api_base_url="https://api.kraken.com",
    withdrawal_permissions=("account.fast-api-key:funds-withdraw",),
    application_form=("redirect_uris", "allowed_permissions", "logo", "rsa_public_key"),
)

PEATIO = Exchange(
    id="peatio",
    name="Peatio Exchange",
    permissions=(
        Permission("profile", "Profile", "Basic user information."),
        Permission("history", "History", "Trade history."),
        Permission("trade", "Trade", "Buy and sell on markets."),
    ),
    default_permissions=("profile", "history"),
    authorize_base_url="https://f1cx.com",
    api_base_url="https://f1cx.com",
    application_form=("redirect_uris", "allowed_permissions"),
)

# Any authorization server that follows RFC 6749 and RFC 7636, described entirely by its credential's
# settings (URLs, client authentication, scope delimiter, PKCE); its scopes are the tenant's to list.
GENERIC_OAUTH2 = Exchange(
    id="oauth2",
    name="OAuth 2.0 server",
    permissions=(),
    default_permissions=(),
    authorize_base_url="",
    api_base_url="",
    application_form=("redirect_uris", "allowed_permissions"),
)

EXCHANGES: dict[str, Exchange] = {
    exchange.id: exchange for exchange in (KUCOIN, OKX, KRAKEN, PEATIO, GENERIC_OAUTH2)
}


def exchange_choices() -> list[tuple[str, str]]:
    return [(exchange.id, exchange.name) for exchange in EXCHANGES.values()]


def get_exchange(exchange_id: str) -> Exchange:
    return EXCHANGES[exchange_id]
