"""The withdrawal fee math, pure: no database, no exchange calls, Decimal only.

KuCoin's Fast API guide (section 9): an OAuth service fee of 10% of the withdrawal amount, "Minimum fee:
equivalent of 1 USDT per withdrawal, Maximum fee: equivalent of 30 USDT per withdrawal", on top of the chain's
withdrawal fee. The guide says nothing of rounding. The fee is in the withdrawn currency, converted at the
exchange's current price: 10% is rounded up to the currency's precision (the preview never promises less than
the exchange takes), the minimum is rounded up and the maximum down, so the fee is never worth less than
1 USDT nor more than 30 USDT. The sandbox (sandbox/funds.py) computes the same.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation, localcontext

SERVICE_FEE_RATE = Decimal("0.10")
SERVICE_FEE_MIN_USDT = Decimal("1")
SERVICE_FEE_MAX_USDT = Decimal("30")
# Far above any balance, and small enough that every figure (up to 18 decimal places) stays exact in Decimal's
# and the database column's digits.
MAX_INTEGER_DIGITS = 15
MAX_DECIMAL_PLACES = 18

# KuCoin's feeDeductType, as its withdrawal v3 defines it (universal SDK spec, ccxt; level A). The portal uses the
# same two words for every exchange.
INTERNAL = (
    "INTERNAL"  # the fee is taken from the withdrawal amount: the balance pays the amount, the recipient gets less
)
EXTERNAL = (
    "EXTERNAL"  # the fee is taken from the main account: the balance pays amount + fees, the recipient the amount
)


class FeeError(ValueError):
    pass


def step(precision: int) -> Decimal:
    return Decimal(1).scaleb(-precision)


def round_up(value: Decimal, precision: int) -> Decimal:
    with localcontext() as context:
        context.prec = 80  # quantize fails rather than round when the result needs more digits than the context
        return value.quantize(step(precision), rounding=ROUND_UP)


def round_down(value: Decimal, precision: int) -> Decimal:
    with localcontext() as context:
        context.prec = 80
        return value.quantize(step(precision), rounding=ROUND_DOWN)


def is_multiple_of_precision(amount: Decimal, precision: int) -> bool:
    return amount == round_up(amount, precision)


def amount_error(amount: Decimal, precision: int = MAX_DECIMAL_PLACES) -> str:
    """Why this amount cannot be withdrawn (for the user), or "" when it can."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return "Enter a number."
    if amount <= 0:
        return "The amount must be positive."
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        return f"Enter at most {MAX_INTEGER_DIGITS} digits before the decimal point."
    if not is_multiple_of_precision(amount, min(precision, MAX_DECIMAL_PLACES)):
        return f"Use at most {min(precision, MAX_DECIMAL_PLACES)} decimal places."
    return ""


def amount_input_error(raw: str) -> str:
    """Why a typed amount is not one, or "" (the asset's precision is checked with the details)."""
    try:
        return amount_error(Decimal(raw))
    except (InvalidOperation, ValueError):
        return "Enter a number."


def service_fee(
    *,
    amount: Decimal,
    price_usdt: Decimal,
    precision: int,
    rate: Decimal = SERVICE_FEE_RATE,
    min_usdt: Decimal = SERVICE_FEE_MIN_USDT,
    max_usdt: Decimal = SERVICE_FEE_MAX_USDT,
) -> Decimal:
    """10% of the amount rounded up, within [1, 30] USDT worth: the bounds converted at the price, the
    minimum rounded up and the maximum down to the precision (so neither is crossed by rounding)."""
    if price_usdt <= 0:
        raise FeeError("The price must be positive.")
    # In the withdrawn currency, so an in-range fee is exactly 10% of the amount (no round trip through the
    # price); the extra precision keeps 1/price from rounding across a precision step.
    with localcontext() as context:
        context.prec = 80
        lowest, highest = round_up(min_usdt / price_usdt, precision), round_down(max_usdt / price_usdt, precision)
        # Where one precision step is worth more than 29 USDT no fee fits both bounds: the maximum wins,
        # as the guide promises the user "at most 30 USDT".
        return min(max(round_up(amount * rate, precision), lowest), highest)


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
        return self.amount + self.total_fee if self.fee_deduct_type == EXTERNAL else self.amount

    @property
    def amount_received(self) -> Decimal:
        """What the recipient gets; zero or less means the withdrawal must be blocked."""
        return self.amount if self.fee_deduct_type == EXTERNAL else self.amount - self.total_fee

    @property
    def receives_something(self) -> bool:
        return self.amount_received > 0


def quote(
    *,
    amount: Decimal,
    chain_fee: Decimal,
    price_usdt: Decimal,
    precision: int,
    fee_deduct_type: str,
    with_service_fee: bool = True,
) -> FeeQuote:
    """Every figure of a preview. ``with_service_fee`` is off for exchanges without an OAuth service fee."""
    if not isinstance(amount, Decimal) or not isinstance(chain_fee, Decimal):
        raise FeeError("Money is Decimal.")
    if fee_deduct_type not in (INTERNAL, EXTERNAL):
        raise FeeError("The fee deduction type is INTERNAL or EXTERNAL.")
    problem = amount_error(amount)
    if problem:
        raise FeeError(problem)
    if not chain_fee.is_finite() or chain_fee < 0:
        raise FeeError("The chain fee cannot be negative.")
    fee = service_fee(amount=amount, price_usdt=price_usdt, precision=precision) if with_service_fee else Decimal(0)
    return FeeQuote(amount=amount, chain_fee=chain_fee, service_fee=fee, fee_deduct_type=fee_deduct_type)


def max_amount(
    *,
    available: Decimal,
    chain_fee: Decimal,
    price_usdt: Decimal,
    precision: int,
    fee_deduct_type: str,
    with_service_fee: bool = True,
) -> Decimal:
    """The largest amount whose withdrawal the balance covers with its fees (0 where none is): all of it where
    the fees come out of the amount, else the most that leaves room for the fees on top. What leaves the
    balance only grows with the amount, so the best of the few amounts where the service fee's rule changes
    (its maximum, its percentage, its minimum) is the answer."""
    available = round_down(max(available, Decimal(0)), precision)
    if fee_deduct_type == INTERNAL:
        return available
    room = available - chain_fee
    if room <= 0:
        return Decimal(0)
    if not with_service_fee:
        return round_down(room, precision)
    highest = round_down(SERVICE_FEE_MAX_USDT / price_usdt, precision)
    lowest = round_up(SERVICE_FEE_MIN_USDT / price_usdt, precision)
    with localcontext() as context:
        context.prec = 80
        at_rate = round_down(room / (1 + SERVICE_FEE_RATE), precision)
    candidates = {
        round_down(room - highest, precision),
        at_rate,
        at_rate - step(precision),
        round_down(room - lowest, precision),
    }
    fits = [
        amount
        for amount in candidates
        if amount > 0
        and amount + chain_fee + service_fee(amount=amount, price_usdt=price_usdt, precision=precision) <= available
    ]
    return max(fits, default=Decimal(0))
