"""Sizes and prices are rounded to the instrument's increments: a whole number of steps, never past what the user
typed (a size or a buy price down, a sell price up), by less than one step, in Decimal throughout."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from connectors.base.trading import BUY, SELL, Instrument, round_to_step

STEPS = st.sampled_from(
    [Decimal(s) for s in ("1", "0.5", "0.1", "0.01", "0.25", "0.00000001", "0.0001", "10", "0.000001", "0.005")]
)
VALUES = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("10000000"), allow_nan=False, allow_infinity=False, places=12
)


def instrument(tick: Decimal, step: Decimal) -> Instrument:
    return Instrument(symbol="BTC-USDT", base="BTC", quote="USDT", price_tick=tick, size_step=step, min_size=step)


@given(value=VALUES, step=STEPS)
def test_a_size_is_a_whole_number_of_steps_at_most_what_was_asked(value, step):
    rounded = instrument(Decimal("0.1"), step).round_size(value)
    assert isinstance(rounded, Decimal)
    assert rounded % step == 0
    assert rounded <= value < rounded + step


@given(value=VALUES, tick=STEPS, side=st.sampled_from([BUY, SELL]))
def test_a_price_is_on_the_tick_and_never_worse_than_typed(value, tick, side):
    rounded = instrument(tick, Decimal("0.001")).round_price(value, side)
    assert rounded % tick == 0
    if side == BUY:
        assert rounded <= value < rounded + tick  # a buyer never pays more than the limit typed
    else:
        assert rounded - tick < value <= rounded  # a seller never gets less


@given(value=VALUES, step=STEPS)
def test_rounding_is_idempotent_and_keeps_the_steps_places(value, step):
    once = round_to_step(value, step, "ROUND_DOWN")
    assert round_to_step(once, step, "ROUND_DOWN") == once
    if step.as_tuple().exponent < 0:
        assert once.as_tuple().exponent == step.as_tuple().exponent


def test_a_value_on_the_step_is_kept():
    assert instrument(Decimal("0.1"), Decimal("0.0001")).round_size(Decimal("1.2345")) == Decimal("1.2345")
    assert instrument(Decimal("0.5"), Decimal("1")).round_price(Decimal("100.5"), SELL) == Decimal("100.5")
    assert instrument(Decimal("0.5"), Decimal("1")).round_price(Decimal("100.6"), SELL) == Decimal("101.0")
