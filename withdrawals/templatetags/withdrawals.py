from decimal import Decimal

from django import template

from ..selectors import withdrawal_capability as capability
from ..selectors import withdrawal_upgrade_url as upgrade_url

register = template.Library()

STEPS = [(1, "Details"), (2, "Preview"), (3, "Confirm it is you"), (4, "Exchange verification"), (7, "Status")]


@register.inclusion_tag("withdrawals/_steps.html")
def wizard_steps(step):
    return {"wizard_steps": STEPS, "step": step}


@register.filter
def money(value):
    """A Decimal in plain notation without trailing zeros (never scientific, never a float)."""
    if value is None:
        return ""
    return format(Decimal(value).normalize(), "f")


@register.simple_tag
def withdrawal_capability(connection):
    """"" when this connection may withdraw, otherwise why not (for the dashboard card)."""
    return capability(connection=connection)


@register.simple_tag
def withdrawal_upgrade_url(connection):
    """The permission page that adds withdrawal to this connection in place, "" where there is none."""
    return upgrade_url(connection=connection)
