"""The exchange a withdrawal goes through: the connectors' signed API object and the exchange's withdrawal hooks."""

from connectors.models import ExchangeCredential
from connectors.base.api import ExchangeAPI
from connectors.base.withdrawals import ExchangeWithdrawals
from connectors.exchanges import withdrawal_hooks
from connectors.models import ExchangeConnection
from connectors.selectors import exchange_api

from .errors import WithdrawalError


def exchange_context(connection: ExchangeConnection) -> tuple[ExchangeAPI, ExchangeWithdrawals, ExchangeCredential]:
    """The connectors' signed API object and this app's hooks for a connection."""
    hooks = withdrawal_hooks(connection.exchange)
    credential = ExchangeCredential.objects.get(
        tenant_id=connection.tenant_id, exchange=connection.exchange, server_slug=connection.server_slug
    )
    api = exchange_api(credential)
    if hooks is None or api is None:
        raise WithdrawalError("Withdrawals are not offered for this exchange.")
    return api, hooks, credential
