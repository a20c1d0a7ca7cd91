from django import template

from ..selectors import trading_capability as capability

register = template.Library()


@register.simple_tag
def trading_capability(connection):
    """"" when this connection may trade, otherwise why not (for the dashboard card)."""
    return capability(connection=connection)
