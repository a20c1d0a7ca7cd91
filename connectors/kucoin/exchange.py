"""KuCoin's Broker Fast API: what the portal knows about it, as data."""

from connectors.exchanges import Exchange, Permission

EXCHANGE = Exchange(
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
    # The least the portal's features need: balances, history and deposit addresses are all "General"; nothing
    # here trades, so no trading group is asked for unless the broker's credential says so.
    default_permissions=("API_COMMON",),
    authorize_base_url="https://www.kucoin.com",
    api_base_url="https://api.kucoin.com",
    known_hosts=("www.kucoin.com", "api.kucoin.com"),
    withdrawal_permissions=("API_WITHDRAW_OAUTH",),
    application_form=("service_ip_list", "trading_ip_list", "redirect_uris"),
)
