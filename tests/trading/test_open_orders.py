"""The ticket page's open orders are read live from the exchange, every pair: the portal's own, those placed
outside it, none that the exchange no longer has open; where the exchange cannot be asked, the portal's records,
and the page says so."""

import re
from decimal import Decimal

import pytest

from sandbox import trading as sandbox_trading
from sandbox.faults import fault_set
from sandbox.models import SandboxUser, SpotOrder
from tests.connectors.helpers import connected
from tests.trading.helpers import TRADING, place
from trading.models import TradeOrder

pytestmark = pytest.mark.django_db(transaction=True)


def open_rows(html: str) -> str:
    return (
        html.split('class="listing orders open-orders cards"', 1)[1].split("</table>", 1)[0]
        if 'class="listing orders open-orders cards"' in html
        else ""
    )


def test_open_orders_are_the_exchanges_with_the_portals_records_as_fallback(browser_session, sandbox_accounts):
    connection = connected(browser_session, sandbox_accounts, "kucoin", TRADING)
    resting = {"base": "BTC", "quote": "USDT", "side": "buy", "type": "limit", "size": "0.001", "price": "60000"}
    mine, gone = place(connection, **resting), place(connection, **resting)
    user = SandboxUser.objects.get(exchange="kucoin", email=sandbox_accounts["kucoin"]["trader"]["email"])
    # The user cancels one at KuCoin itself, and rests another there in a pair the portal never traded.
    sandbox_trading.order_cancel(SpotOrder.objects.get(order_id=gone.exchange_order_id))
    outside = sandbox_trading.order_place(
        user=user,
        symbol="SOL-USDT",
        side="buy",
        type="limit",
        size=Decimal("1"),
        price=Decimal("1"),
        client_order_id="at-kucoin-itself",
    )
    page_url = f"{browser_session.base_url}/trade/{connection.pk}/"

    html = browser_session.session.get(page_url).text
    listed = open_rows(html)
    assert "As KuCoin lists them now." in html
    assert f'data-order="{mine.pk}"' in listed and f'data-order="{gone.pk}"' not in listed
    assert f'data-order="{outside.order_id}"' in listed and "Buy SOL/USDT limit" in listed
    assert "(placed outside the portal)" in listed
    gone.refresh_from_db()
    assert gone.status == TradeOrder.Status.CANCELLED  # read again: the history tells how it ended
    assert not TradeOrder.objects.filter(exchange_order_id=outside.order_id).exists()  # shown, not recorded

    fault_set(exchange="kucoin", endpoint="hf-orders-active-symbols", kind="500")
    html = browser_session.session.get(page_url).text
    listed = open_rows(html)
    assert re.search(r"KuCoin could not be asked for your open orders just now: these are the portal's records", html)
    assert f'data-order="{mine.pk}"' in listed and outside.order_id not in listed
