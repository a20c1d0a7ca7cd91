"""OKX's Fast API: what the portal knows about it, as data."""

from connectors.exchanges import Exchange, Permission

from .regions import REGIONAL_HOSTS

EXCHANGE = Exchange(
    id="okx",
    name="OKX",
    permissions=(
        Permission("read_only", "Read only", "View balances, orders and history."),
        Permission("trade", "Trade", "Place and cancel orders."),
    ),
    default_permissions=("read_only",),
    authorize_base_url="https://www.okx.com",
    api_base_url="https://www.okx.com",
    known_hosts=REGIONAL_HOSTS,  # every genuine OKX site (regions.py)
    application_form=("service_ip_list", "redirect_uris", "logo", "allowed_permissions", "cross_domain_name"),
)
