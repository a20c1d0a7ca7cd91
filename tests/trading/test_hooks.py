"""Which exchanges trade in the portal, and the start-up check of their trading hooks."""

import dataclasses

from connectors import checks
from connectors.base.trading import ExchangeTrading
from connectors.exchanges import exchange_packages, trading_hooks


def test_kucoin_okx_and_kraken_trade_and_the_others_do_not():
    """Peatio's APIv2 of the OAuth years (hpyhacking/peatio before 2017-12-22, app/api/api_v2/orders.rb) places,
    lists, reads and cancels orders under the ``trade`` scope, but tells no market's increments or fees
    (entities/market.rb exposes only id and name; config/markets.yml keeps them on the server) and carries no
    broker attribution: the ticket could neither round nor preview a fee from the exchange's answers."""
    packages = exchange_packages()
    assert {i for i, p in packages.items() if isinstance(p.trading, ExchangeTrading)} == {"kucoin", "okx", "kraken"}
    assert trading_hooks("peatio") is None and trading_hooks("nowhere") is None
    assert trading_hooks("okx").attribution_readable and not trading_hooks("kucoin").attribution_readable


def test_the_check_names_trading_permissions_the_exchange_lacks(monkeypatch):
    kucoin, okx = exchange_packages()["kucoin"], exchange_packages()["okx"]
    broken = {"kucoin": kucoin, "okx": dataclasses.replace(okx, trading=kucoin.trading)}
    monkeypatch.setattr(checks, "exchange_packages", lambda: broken)
    assert {(error.id, error.msg) for error in checks.exchange_packages_check()} == {
        ("connectors.E006", "okx: its trading hooks need permissions it does not have: API_COMMON, API_SPOT.")
    }
