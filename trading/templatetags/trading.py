from django import template

from connectors.exchanges import trading_hooks

from ..selectors import trading_capability as capability

register = template.Library()


@register.simple_tag
def trading_capability(connection):
    """For the dashboard card: False where the exchange offers no trading (nothing is shown), "" when this
    connection may trade, otherwise why not."""
    if trading_hooks(connection.exchange) is None:
        return False
    return capability(connection=connection)
