"""How the dashboard writes amounts and ages: thousands separators, the currency after the number."""

from datetime import datetime
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def amount(value, currency: str = ""):
    """A Decimal as written for people: "12,345.6789 BTC" (every digit the exchange gave, no trailing zeros,
    never scientific notation, never a float)."""
    if value is None:
        return ""
    text = format(Decimal(value).normalize(), ",f")
    return f"{text} {currency}" if currency else text


@register.filter
def value(value, currency: str = ""):
    """A value in the reference currency, to the cent: "1,234.50 USDT"."""
    if value is None:
        return ""
    text = format(Decimal(value).quantize(Decimal("0.01")), ",f")
    return f"{text} {currency}" if currency else text


@register.filter
def age(moment: datetime | None):
    """How long ago, in words: "just now", "40 seconds ago", "2 minutes ago"."""
    if moment is None:
        return ""
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} seconds ago"
    return f"{timesince(moment).split(',')[0]} ago"
