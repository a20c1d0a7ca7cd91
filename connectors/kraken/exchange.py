"""Kraken Connect: what the portal knows about it, as data."""

from connectors.exchanges import Exchange, Permission

EXCHANGE = Exchange(
    id="kraken",
    name="Kraken",
    permissions=(
        Permission("account.info:basic", "Account details", "E-mail and public account identifier."),
        Permission(
            "account.fast-api-key:write", "Fast API key", "Create, update and delete the portal's Fast API key."
        ),
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
    known_hosts=("id.kraken.com", "api.kraken.com"),
    withdrawal_permissions=("account.fast-api-key:funds-withdraw",),
    application_form=("redirect_uris", "allowed_permissions", "logo", "rsa_public_key"),
)
