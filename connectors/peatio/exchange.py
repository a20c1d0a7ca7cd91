"""The Peatio-style exchange (Doorkeeper OAuth, APIv2): what the portal knows about it, as data."""

from connectors.exchanges import Exchange, Permission

EXCHANGE = Exchange(
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
    known_hosts=("f1cx.com",),
    application_form=("redirect_uris", "allowed_permissions"),
    short_name="Peatio",
)
