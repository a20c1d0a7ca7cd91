from decimal import ROUND_HALF_UP, Decimal

from django import template

from connectors.exchanges import withdrawal_hooks

from ..selectors import withdrawal_capability as capability
from ..selectors import withdrawal_upgrade_url as upgrade_url

register = template.Library()

STEPS = [(1, "Details"), (2, "Preview"), (3, "Confirm it is you"), (4, "Exchange verification"), (7, "Status")]
# Where the exchange asks for no 2FA codes of its own (Kraken), step 4 only sends the withdrawal.
STEPS_WITHOUT_FACTORS = [(number, "Send" if number == 4 else label) for number, label in STEPS]


@register.inclusion_tag("withdrawals/_steps.html")
def wizard_steps(step, exchange):
    """The steps of this exchange's wizard, numbered as the user counts them, with where the user is now."""
    hooks = withdrawal_hooks(exchange)
    flow = STEPS if hooks is not None and hooks.needs_factors else STEPS_WITHOUT_FACTORS
    steps = [
        {"position": position, "label": label, "current": number == step, "done": number < step}
        for position, (number, label) in enumerate(flow, start=1)
    ]
    current = next((item for item in steps if item["current"]), None)
    return {"wizard_steps": steps, "current": current, "count": len(steps)}


@register.filter
def money(value):
    """A Decimal in plain notation without trailing zeros (never scientific, never a float)."""
    if value is None:
        return ""
    return format(Decimal(value).normalize(), "f")


@register.simple_tag
def in_reference(amount, withdrawal):
    """An amount of the withdrawal's currency worth in the tenant's reference currency at the quote's prices, to
    the cent ("" without an amount, "price unavailable" where a price is missing)."""
    if amount is None:
        return ""
    usdt = withdrawal.reference_currency == "USDT"  # a quote made before the reference price was kept: USDT
    price, rate = withdrawal.price_usdt, Decimal(1) if usdt else withdrawal.reference_price_usdt
    if price is None or not rate:
        return "price unavailable"
    worth = (Decimal(amount) * Decimal(price) / Decimal(rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"≈ {worth:,} {withdrawal.reference_currency}"


@register.simple_tag
def withdrawal_capability(connection):
    """ "" when this connection may withdraw, otherwise why not (for the dashboard card)."""
    return capability(connection=connection)


@register.simple_tag
def withdrawal_upgrade_url(connection):
    """The permission page that adds withdrawal to this connection in place, "" where there is none."""
    return upgrade_url(connection=connection)
