"""Property tests of the fee math: floor and cap, precision, conversion, INTERNAL versus EXTERNAL."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.exchanges import CURRENCIES as SANDBOX_CURRENCIES
from sandbox.funds import WithdrawalPlan, oauth_service_fee
from withdrawals import fees

precisions = st.integers(min_value=0, max_value=8)
prices = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("200000"), places=4, allow_nan=False, allow_infinity=False
).filter(lambda p: p > 0)


@st.composite
def amounts(draw, precision=None):
    precision = draw(precisions) if precision is None else precision
    units = draw(st.integers(min_value=1, max_value=10**12))
    return Decimal(units).scaleb(-precision), precision


def bounds(price, precision):
    """The minimum rounded up and the maximum rounded down to the precision."""
    return fees.round_up(Decimal(1) / price, precision), fees.round_down(Decimal(30) / price, precision)


@given(amounts(), prices)
def test_service_fee_is_ten_percent_within_one_and_thirty_usdt(drawn, price):
    amount, precision = drawn
    fee = fees.service_fee(amount=amount, price_usdt=price, precision=precision)
    step = Decimal(1).scaleb(-precision)
    assert fee == fee.quantize(step)
    # Never worth more than 30 USDT, whatever the rounding.
    assert fee * price <= Decimal(30)
    lowest, highest = bounds(price, precision)
    if lowest <= highest:
        assert lowest <= fee <= highest and fee * price >= Decimal(1)
        ten_percent = fees.round_up(amount * Decimal("0.1"), precision)
        if lowest <= ten_percent <= highest:
            assert fee == ten_percent
    else:
        assert fee == highest  # one step is worth more than 29 USDT: the maximum wins


def test_the_maximum_is_rounded_down_so_the_fee_never_exceeds_30_usdt():
    # 30 USDT at 7 = 4.2857…: 4.29 would be worth 30.03 USDT.
    fee = fees.service_fee(amount=Decimal(1000), price_usdt=Decimal(7), precision=2)
    assert fee == Decimal("4.28") and fee * 7 <= 30
    # The minimum still rounds up: 1 USDT at 7 = 0.1428… → 0.15.
    assert fees.service_fee(amount=Decimal("0.01"), price_usdt=Decimal(7), precision=2) == Decimal("0.15")


@given(amounts(precision=6))
def test_usdt_fee_floor_and_cap(drawn):
    amount, precision = drawn
    fee = fees.service_fee(amount=amount, price_usdt=Decimal(1), precision=precision)
    if amount <= 10:
        assert fee == 1
    elif amount >= 300:
        assert fee == 30
    else:
        assert fee == fees.round_up(amount / 10, precision)


@given(
    amounts(),
    prices,
    st.sampled_from([fees.EXTERNAL, fees.INTERNAL]),
    st.decimals(min_value=0, max_value=100, places=4),
)
def test_debit_and_received_by_deduction_type(drawn, price, deduct, chain_fee):
    amount, precision = drawn
    quote = fees.quote(
        amount=amount, chain_fee=chain_fee, price_usdt=price, precision=precision, fee_deduct_type=deduct
    )
    assert quote.total_fee == quote.chain_fee + quote.service_fee
    if deduct == fees.EXTERNAL:  # from the main account
        assert quote.total_debit == amount + quote.total_fee
        assert quote.amount_received == amount
    else:
        assert quote.total_debit == amount
        assert quote.amount_received == amount - quote.total_fee
    # The balance always pays exactly what the recipient gets plus every fee.
    assert quote.total_debit == quote.amount_received + quote.total_fee
    # Whatever is shown as received is either positive or the quote says it is blocked.
    assert quote.receives_something == (quote.amount_received > 0)
    for value in (quote.service_fee, quote.chain_fee, quote.total_debit):
        assert isinstance(value, Decimal) and value >= 0


@given(prices, precisions)
def test_conversion_of_the_minimum_fee(price, precision):
    # A tiny amount pays the 1 USDT floor, converted at the price.
    fee = fees.service_fee(amount=Decimal(1).scaleb(-precision), price_usdt=price, precision=precision)
    lowest, highest = bounds(price, precision)
    assert fee == min(max(lowest, fees.round_up(Decimal(1).scaleb(-precision) / 10, precision)), highest)


def test_known_figures():
    # 0.01 BTC at 65000: 10% = 65 USDT, capped at 30 USDT = 0.00046153846… → 0.00046153 BTC (rounded down).
    assert fees.service_fee(amount=Decimal("0.01"), price_usdt=Decimal(65000), precision=8) == Decimal("0.00046153")
    # 0.0001 BTC: 0.65 USDT, floored at 1 USDT = 0.0000153846… → 0.00001539.
    assert fees.service_fee(amount=Decimal("0.0001"), price_usdt=Decimal(65000), precision=8) == Decimal("0.00001539")
    # 100 USDT: 10 USDT, in range.
    assert fees.service_fee(amount=Decimal(100), price_usdt=Decimal(1), precision=6) == Decimal(10)
    quote = fees.quote(
        amount=Decimal(5), chain_fee=Decimal(1), price_usdt=Decimal(1), precision=6, fee_deduct_type=fees.INTERNAL
    )
    assert quote.amount_received == Decimal(3) and quote.total_debit == Decimal(5)
    blocked = fees.quote(
        amount=Decimal(2), chain_fee=Decimal(1), price_usdt=Decimal(1), precision=6, fee_deduct_type=fees.INTERNAL
    )
    assert blocked.amount_received == 0 and not blocked.receives_something


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": Decimal(0)},
        {"amount": Decimal(-1)},
        {"fee_deduct_type": "BOTH"},
        {"amount": 1.5},
        {"chain_fee": Decimal(-1)},
        {"price_usdt": Decimal(0)},
        {"amount": Decimal("1e30")},
        {"amount": Decimal("Infinity")},
        {"amount": Decimal("NaN")},
        {"amount": Decimal("1e-30")},
    ],
)
def test_refuses_bad_input(kwargs):
    arguments = {
        "amount": Decimal(1),
        "chain_fee": Decimal(0),
        "price_usdt": Decimal(1),
        "precision": 6,
        "fee_deduct_type": fees.EXTERNAL,
        **kwargs,
    }
    with pytest.raises(fees.FeeError):
        fees.quote(**arguments)


@pytest.mark.parametrize(
    "amount, problem",
    [
        (Decimal("1e30"), "at most 15 digits"),
        (Decimal("1E+15"), "at most 15 digits"),
        (Decimal("Infinity"), "number"),
        (Decimal("-0.1"), "positive"),
        (Decimal("0.1234567"), "6 decimal places"),
    ],
)
def test_amounts_out_of_range_are_errors_not_exceptions(amount, problem):
    assert problem in fees.amount_error(amount, 6)
    assert fees.amount_error(Decimal("999999999999999.123456"), 6) == ""


@given(
    st.sampled_from(sorted(SANDBOX_CURRENCIES)),
    st.integers(min_value=1, max_value=10**12),
    st.sampled_from([fees.INTERNAL, fees.EXTERNAL]),
)
def test_the_preview_and_the_sandboxs_withdrawal_agree_on_every_figure(code, units, deduct):
    # feeDeductType as KuCoin defines it (withdrawal v3, level A): INTERNAL from the amount, EXTERNAL from the
    # main account. The portal and the sandbox are written apart; they must read it the same way.
    currency = SANDBOX_CURRENCIES[code]
    chain = currency.chains[0]
    amount = Decimal(units).scaleb(-currency.precision)
    quote = fees.quote(
        amount=amount,
        chain_fee=chain.withdrawal_fee,
        price_usdt=currency.price_usdt,
        precision=currency.precision,
        fee_deduct_type=deduct,
    )
    plan = WithdrawalPlan(
        currency,
        chain,
        amount,
        chain.withdrawal_fee,
        oauth_service_fee(currency, amount),
        deduct,
        "address",
        "ADDRESS",
        "",
        "",
        False,
    )
    assert quote.service_fee == plan.service_fee
    assert (quote.total_debit, quote.amount_received) == (plan.debit, plan.amount_sent)
    if deduct == fees.INTERNAL:
        assert quote.total_debit == amount and quote.amount_received == amount - quote.total_fee
    else:
        assert quote.total_debit == amount + quote.total_fee and quote.amount_received == amount


@pytest.mark.parametrize("available", [Decimal("1.5"), Decimal("0.02096153"), Decimal("0.0051"), Decimal("0.0007")])
def test_max_leaves_room_for_the_fees_and_one_step_more_would_not_fit(available):
    price, chain_fee, precision = Decimal("65000"), Decimal("0.0005"), 8
    amount = fees.max_amount(
        available=available, chain_fee=chain_fee, price_usdt=price, precision=precision, fee_deduct_type=fees.EXTERNAL
    )

    def debit(value):
        return fees.quote(
            amount=value, chain_fee=chain_fee, price_usdt=price, precision=precision, fee_deduct_type=fees.EXTERNAL
        ).total_debit

    assert amount > 0 and debit(amount) <= available
    assert debit(amount + fees.step(precision)) > available


def test_max_is_the_whole_balance_where_the_fees_come_out_of_the_amount_and_nothing_where_fees_eat_it():
    assert fees.max_amount(
        available=Decimal("0.123456789"),
        chain_fee=Decimal("0.0005"),
        price_usdt=Decimal("65000"),
        precision=8,
        fee_deduct_type=fees.INTERNAL,
    ) == Decimal("0.12345678")
    assert (
        fees.max_amount(
            available=Decimal("0.0004"),
            chain_fee=Decimal("0.0005"),
            price_usdt=Decimal("65000"),
            precision=8,
            fee_deduct_type=fees.EXTERNAL,
        )
        == 0
    )
