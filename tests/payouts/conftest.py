"""Payees connected through the real flows at the sandbox mounted in the live server, and the sandbox's chain."""

import pytest

from tests.payouts.helpers import TRC20, connect_payee


@pytest.fixture(autouse=True)
def quick_sync(settings):
    settings.EXPORTS_SYNC_PAUSE_SCALE = 0
    settings.EXPORTS_HISTORY_DAYS = 2  # the payouts are from now; no need to walk a year of windows


@pytest.fixture
def payees(portal, sandbox_accounts):
    """Three users of the tenant, on KuCoin, OKX and Kraken."""
    return {
        exchange_id: connect_payee(portal, sandbox_accounts, exchange_id, f"payee-{exchange_id}@live.example")
        for exchange_id in TRC20
    }
