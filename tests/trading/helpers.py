"""Connected for trading at the sandbox (OKX and Kraken tick what the portal asks for), and an order placed as its
ticket was previewed."""

from connectors.models import ExchangeConnection
from trading import services
from trading.models import TradeOrder

# KuCoin: General and Spot trading.
TRADING = ["API_COMMON", "API_SPOT"]
KRAKEN_TRADING = [
    "account.info:basic",
    "account.fast-api-key:write",
    "account.fast-api-key:funds-query",
    "account.fast-api-key:trades-modify",
    "account.fast-api-key:trades-query-open",
    "account.fast-api-key:trades-query-closed",
]


def connected_okx(browser_session, sandbox_accounts, permissions) -> ExchangeConnection:
    """OKX's consent page ticks what the portal asked for (with its fixed fast_api scope)."""
    response = browser_session.connect("okx", sandbox_accounts["okx"]["trader"], permissions)
    assert response.status_code == 302, response.text[:500]
    return ExchangeConnection.objects.get(exchange="okx")


def place(connection, **ticket) -> TradeOrder:
    preview = services.order_preview(connection=connection, **ticket)
    return services.order_place(
        connection=connection,
        client_order_id=preview.ticket.client_order_id,
        **{**ticket, "size": preview.ticket.size, "price": preview.ticket.price},
    )


def connected_kraken(browser_session, sandbox_accounts, permissions) -> ExchangeConnection:
    response = browser_session.connect("kraken", sandbox_accounts["kraken"]["trader"], permissions)
    assert response.status_code == 302, response.text[:500]
    return ExchangeConnection.objects.get(exchange="kraken")
