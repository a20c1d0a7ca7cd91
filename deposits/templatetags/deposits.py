from django import template

from ..selectors import deposit_capability as capability

register = template.Library()


@register.simple_tag
def deposit_capability(connection):
    """ "" when this connection may show deposit addresses, otherwise why not (for the dashboard card)."""
    return capability(connection=connection)
