"""Per-exchange withdrawal hooks; an exchange without an entry here offers no withdrawal."""

from .base import ExchangeWithdrawals
from .kraken import KrakenWithdrawals
from .kucoin import KuCoinWithdrawals

HOOKS: dict[str, ExchangeWithdrawals] = {"kucoin": KuCoinWithdrawals(), "kraken": KrakenWithdrawals()}


def hooks_for(exchange_id: str) -> ExchangeWithdrawals | None:
    return HOOKS.get(exchange_id)
