"""Spot orders: the pairs and their increments, placing (filled at once where marketable), cancelling.

One matching rule for every exchange: a market order, or a limit order at or through the sandbox price (a buy at or
above it, a sell at or below), fills at once and in full at the sandbox price as the taker; any other limit order
rests open until cancelled. Each fill moves the balances of the account orders trade from (``trading_account``)
and leaves a trade in the account's history. The increments and fee rates are the sandbox's choice, shaped like the
exchanges' own (each view names its source for the fields); each exchange's views format the same orders its own
way."""

import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from . import clock
from .exchanges import CURRENCIES
from .models import Balance, HistoryRecord, SandboxUser, SpotOrder


@dataclass(frozen=True)
class Pair:
    base: str
    quote: str
    price_tick: Decimal
    size_step: Decimal
    min_size: Decimal
    min_funds: Decimal

    @property
    def symbol(self) -> str:
        return f"{self.base}-{self.quote}"

    @property
    def price(self) -> Decimal:
        """The sandbox's price of the pair, on its tick."""
        ratio = CURRENCIES[self.base].price_usdt / CURRENCIES[self.quote].price_usdt
        return ratio.quantize(self.price_tick)


def _pair(base, quote, tick, step, min_size, min_funds) -> Pair:
    return Pair(base, quote, Decimal(tick), Decimal(step), Decimal(min_size), Decimal(min_funds))


PAIRS = {
    pair.symbol: pair
    for pair in [
        _pair("BTC", "USDT", "0.1", "0.00000001", "0.00001", "0.1"),
        _pair("ETH", "USDT", "0.01", "0.0000001", "0.0001", "0.1"),
        _pair("SOL", "USDT", "0.01", "0.0001", "0.01", "0.1"),
        _pair("ETH", "BTC", "0.000001", "0.0000001", "0.0001", "0.00001"),
        _pair("SOL", "BTC", "0.0000001", "0.001", "0.01", "0.00001"),
    ]
}

# (maker, taker) per exchange: each one's published entry-level spot rates (KuCoin 0.1 %/0.1 %, OKX's regular
# users 0.08 %/0.1 %, Kraken Pro's lowest tier 0.25 %/0.40 %), charged in the quote currency.
FEE_RATES = {
    "kucoin": (Decimal("0.001"), Decimal("0.001")),
    "okx": (Decimal("0.0008"), Decimal("0.001")),
    "kraken": (Decimal("0.0025"), Decimal("0.004")),
}


class OrderRefused(Exception):
    """``kind``: symbol, invalid, increment, min_size, balance, duplicate, not_found, not_open."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


def amount(value) -> Decimal | None:
    """A size or price as a request sent it (text or number); None where it is none."""
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except ArithmeticError:
        return None


def pair_of(symbol: str) -> Pair:
    pair = PAIRS.get((symbol or "").upper())
    if pair is None:
        raise OrderRefused("symbol", f"Unknown symbol {symbol}.")
    return pair


def new_order_id(exchange: str) -> str:
    if exchange == "kucoin":
        return secrets.token_hex(12)  # 24 hex digits, as KuCoin's order ids
    if exchange == "okx":
        return str(secrets.randbelow(9 * 10**17) + 10**17)  # OKX's ids are long decimal strings
    part = secrets.token_hex(8).upper()  # Kraken's txid: OXXXXX-XXXXX-XXXXXX
    return f"O{part[:5]}-{part[5:10]}-{part[10:16]}"


def _on_step(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


def trading_account(user: SandboxUser) -> str:
    """The Balance field the user's spot orders trade from: KuCoin's HF orders from its high-frequency trading account
    (``trade_hf``, Kucoin/kucoin-api-docs-hf "Order placement"; level A), the others' from the one balance."""
    return "trading" if user.exchange == "kucoin" else "available"


def _balance(user: SandboxUser, code: str) -> Balance:
    row, _ = Balance.objects.select_for_update().get_or_create(user=user, currency=code)
    return row


def _move(row: Balance, account: str, delta: Decimal) -> None:
    setattr(row, account, getattr(row, account) + delta)
    row.save(update_fields=[account])


@transaction.atomic
def order_place(
    *,
    user: SandboxUser,
    symbol: str,
    side: str,
    type: str,
    size: Decimal,
    price: Decimal | None,
    client_order_id: str = "",
    attribution: dict | None = None,
) -> SpotOrder:
    pair = pair_of(symbol)
    if side not in ("buy", "sell") or type not in ("market", "limit"):
        raise OrderRefused("invalid", "side is buy or sell, type market or limit.")
    if size is None or size <= 0 or (type == "limit" and (price is None or price <= 0)):
        raise OrderRefused("invalid", "size (and a limit order's price) must be positive numbers.")
    if not _on_step(size, pair.size_step) or (price is not None and not _on_step(price, pair.price_tick)):
        raise OrderRefused("increment", f"size must be a multiple of {pair.size_step} and price of {pair.price_tick}.")
    if size < pair.min_size:
        raise OrderRefused("min_size", f"The order size is below the minimum of {pair.min_size} {pair.base}.")
    if client_order_id and SpotOrder.objects.filter(user=user, client_order_id=client_order_id).exists():
        raise OrderRefused("duplicate", "An order with this client order id exists already.")
    market = pair.price
    marketable = type == "market" or (price >= market if side == "buy" else price <= market)
    if (price or market) * size < pair.min_funds:
        raise OrderRefused("min_size", f"The order value is below the minimum of {pair.min_funds} {pair.quote}.")
    _maker, taker = FEE_RATES[user.exchange]
    needed = (price or market) * size * (1 + taker) if side == "buy" else size
    held = _balance(user, pair.quote if side == "buy" else pair.base)
    if getattr(held, trading_account(user)) < needed:
        raise OrderRefused("balance", "Balance insufficient.")
    now = clock.now()
    order = SpotOrder.objects.create(
        user=user,
        order_id=new_order_id(user.exchange),
        client_order_id=client_order_id,
        symbol=pair.symbol,
        side=side,
        type=type,
        price=price,
        size=size,
        attribution=attribution or {},
        created_at=now,
        updated_at=now,
    )
    if marketable:
        _fill(order, pair, market, taker)
    return order


def _fill(order: SpotOrder, pair: Pair, price: Decimal, rate: Decimal) -> None:
    funds = price * order.size
    fee = (funds * rate).quantize(Decimal("0.00000001"))
    base, quote = _balance(order.user, pair.base), _balance(order.user, pair.quote)
    sign = 1 if order.side == "buy" else -1
    account = trading_account(order.user)
    _move(base, account, sign * order.size)
    _move(quote, account, -sign * funds - fee)
    order.status, order.filled_size, order.funds, order.fee, order.fee_currency = (
        SpotOrder.Status.FILLED,
        order.size,
        funds,
        fee,
        pair.quote,
    )
    order.trade_id, order.liquidity = f"T{order.pk:010d}", "taker"
    order.save()
    HistoryRecord.objects.create(
        user=order.user,
        kind=HistoryRecord.Kind.TRADE,
        txid=order.trade_id,
        time=order.updated_at,
        currency=pair.base,
        amount=order.size,
        fee=fee,
        fee_currency=pair.quote,
        price=price,
        pair=pair.symbol,
        side=order.side,
        details={"orderId": order.order_id, "hf": order.user.exchange == "kucoin"},
    )


def order_find(user: SandboxUser, *, order_id: str = "", client_order_id: str = "") -> SpotOrder:
    found = SpotOrder.objects.filter(user=user)
    found = found.filter(order_id=order_id) if order_id else found.filter(client_order_id=client_order_id)
    order = found.first() if (order_id or client_order_id) else None
    if order is None:
        raise OrderRefused("not_found", "The order does not exist.")
    return order


@transaction.atomic
def order_cancel(order: SpotOrder) -> SpotOrder:
    order = SpotOrder.objects.select_for_update().get(pk=order.pk)
    if order.status != SpotOrder.Status.OPEN:
        raise OrderRefused("not_open", "The order is not open.")
    order.status, order.updated_at = SpotOrder.Status.CANCELLED, clock.now()
    order.save(update_fields=["status", "updated_at"])
    return order


def orders(user: SandboxUser, *, symbol: str = "", open_only: bool | None = None):
    """Newest first."""
    found = SpotOrder.objects.filter(user=user).order_by("-created_at", "-pk")
    if symbol:
        found = found.filter(symbol=symbol.upper())
    if open_only is True:
        found = found.filter(status=SpotOrder.Status.OPEN)
    elif open_only is False:
        found = found.exclude(status=SpotOrder.Status.OPEN)
    return found
