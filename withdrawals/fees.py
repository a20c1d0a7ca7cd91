"""The withdrawal fee math, pure: no database, no exchange calls, Decimal only.

KuCoin's Fast API guide (section 9): an OAuth service fee of 10% of the withdrawal amount, at least the
equivalent of 1 USDT and at most 30 USDT, on top of the chain's withdrawal fee. The fee is in the withdrawn
currency, converted at the exchange's current price and rounded up to the currency's precision, so the
preview never promises less than the exchange takes.
"""

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, localcontext

SERVICE_FEE_RATE = Decimal("0.10")
SERVICE_FEE_MIN_USDT = Decimal("1")
SERVICE_FEE_MAX_USDT = Decimal("30")

INTERNAL = "INTERNAL"  # the balance pays amount + fees; the recipient gets the amount
EXTERNAL = "EXTERNAL"  # the balance pays the amount; the recipient gets amount - fees


class FeeError(ValueError):
    pass


def step(precision: int) -> Decimal:
    return Decimal(1).scaleb(-precision)


def round_up(value: Decimal, precision: int) -> Decimal:
    return value.quantize(step(precision), rounding=ROUND_UP)


def is_multiple_of_precision(amount: Decimal, precision: int) -> bool:
    return amount == amount.quantize(step(precision), rounding=ROUND_UP)


def service_fee(*, amount: Decimal, price_usdt: Decimal, precision: int, rate: Decimal = SERVICE_FEE_RATE,
                min_usdt: Decimal = SERVICE_FEE_MIN_USDT, max_usdt: Decimal = SERVICE_FEE_MAX_USDT) -> Decimal:
    """10% of the amount, clamped to [1, 30] USDT worth, in the withdrawn currency, rounded up."""
    if price_usdt <= 0:
        raise FeeError("The price must be positive.")
    # Clamp in the withdrawn currency so an in-range fee is exactly 10% of the amount (no round trip
    # through the price); the extra precision keeps 1/price from rounding across a precision step.
    with localcontext() as context:
        context.prec = 60
        fee = min(max(amount * rate, min_usdt / price_usdt), max_usdt / price_usdt)
        return round_up(fee, precision)


@dataclass(frozen=True)
class FeeQuote:
    amount: Decimal
    chain_fee: Decimal
    service_fee: Decimal
    fee_deduct_type: str

    @property
    def total_fee(self) -> Decimal:
        return self.chain_fee + self.service_fee

    @property
    def total_debit(self) -> Decimal:
        """What leaves the user's balance."""
        return self.amount + self.total_fee if self.fee_deduct_type == INTERNAL else self.amount

    @property
    def amount_received(self) -> Decimal:
        """What the recipient gets; zero or less means the withdrawal must be blocked."""
        return self.amount if self.fee_deduct_type == INTERNAL else self.amount - self.total_fee

    @property
    def receives_something(self) -> bool:
        return self.amount_received > 0


def quote(*, amount: Decimal, chain_fee: Decimal, price_usdt: Decimal, precision: int, fee_deduct_type: str,
          with_service_fee: bool = True) -> FeeQuote:
    """Every figure of a preview. ``with_service_fee`` is off for exchanges without an OAuth service fee."""
    if not isinstance(amount, Decimal) or not isinstance(chain_fee, Decimal):
        raise FeeError("Money is Decimal.")
    if fee_deduct_type not in (INTERNAL, EXTERNAL):
        raise FeeError("The fee deduction type is INTERNAL or EXTERNAL.")
    if amount <= 0:
        raise FeeError("The amount must be positive.")
    if chain_fee < 0:
        raise FeeError("The chain fee cannot be negative.")
    fee = service_fee(amount=amount, price_usdt=price_usdt, precision=precision) if with_service_fee else Decimal(0)
    return FeeQuote(amount=amount, chain_fee=chain_fee, service_fee=fee, fee_deduct_type=fee_deduct_type)
