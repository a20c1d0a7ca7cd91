"""The portal's record of each order: what was asked, what attribution it went out with, what the exchange says."""

from django.conf import settings
from django.db import models


def money_field(**kwargs):
    return models.DecimalField(max_digits=38, decimal_places=18, **kwargs)


class TradeOrder(models.Model):
    class Status(models.TextChoices):
        SENDING = "sending", "Sending"  # recorded before the exchange is asked
        OPEN = "open", "Open"
        PARTIALLY_FILLED = "partially_filled", "Partially filled"
        FILLED = "filled", "Filled"
        CANCELLED = "cancelled", "Cancelled"
        REFUSED = "refused", "Refused"  # the exchange or the portal refused it: nothing was placed
        UNKNOWN = "unknown", "Unknown"  # no answer: the exchange may or may not have it

    class Source(models.TextChoices):
        PORTAL = "portal", "Placed in the portal"
        EXCHANGE = "exchange", "Found at the exchange"  # the attribution check read it back; not placed here

    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="trade_orders")
    connection = models.ForeignKey(
        "connectors.ExchangeConnection", on_delete=models.CASCADE, related_name="trade_orders"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trade_orders")
    exchange = models.CharField(max_length=32)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.PORTAL)
    symbol = models.CharField(max_length=32)  # the exchange's own name of the pair
    base = models.CharField(max_length=16)
    quote = models.CharField(max_length=16)
    side = models.CharField(max_length=4)
    type = models.CharField(max_length=8)
    size = money_field()
    price = money_field(null=True, blank=True)
    client_order_id = models.CharField(max_length=64)
    exchange_order_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    filled_size = money_field(default=0)
    filled_funds = money_field(default=0)  # in the quote currency
    fee = money_field(default=0)
    fee_currency = models.CharField(max_length=16, blank=True)
    error = models.TextField(blank=True)
    # What of the broker's attribution the request carried (no secret: a signature shows as "present").
    attribution = models.JSONField(default=dict, blank=True)
    # The attribution check's verdict once it read the order back: None not yet checked.
    attributed = models.BooleanField(null=True, blank=True)
    attribution_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "client_order_id"], name="trade_order_client_id_unique"),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="trade_order_size_positive"),
            models.CheckConstraint(condition=models.Q(side__in=["buy", "sell"]), name="trade_order_side"),
            models.CheckConstraint(condition=models.Q(type__in=["market", "limit"]), name="trade_order_type"),
        ]
        indexes = [models.Index(fields=["tenant", "exchange", "created_at"], name="trade_order_volume")]

    def __str__(self):
        return f"{self.exchange} {self.side} {self.size.normalize()} {self.symbol}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.PARTIALLY_FILLED)
