"""The exchange a withdrawal goes through: the connectors' signed API object and the exchange's withdrawal hooks."""

from connectors.base.api import ExchangeAPI
from connectors.base.withdrawals import ExchangeWithdrawals
from connectors.clients import exchange_api
from connectors.exchanges import withdrawal_hooks
from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.selectors import connection_credential

from .errors import WithdrawalError


def exchange_context(connection: ExchangeConnection) -> tuple[ExchangeAPI, ExchangeWithdrawals, ExchangeCredential]:
    """The connectors' signed API object and this app's hooks for a connection."""
    hooks = withdrawal_hooks(connection.exchange)
    credential = connection_credential(connection)
    api = exchange_api(credential)
    if hooks is None or api is None:
        raise WithdrawalError("Withdrawals are not offered for this exchange.")
    return api, hooks, credential
