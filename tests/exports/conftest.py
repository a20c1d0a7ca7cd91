"""Live-sandbox fixtures shared with the connector tests, plus connected accounts whose history can be synced."""

import pytest

from connectors.models import ExchangeConnection


@pytest.fixture(autouse=True)
def exports_dir(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.EXPORTS_SYNC_PAUSE_SCALE = 0  # small histories; the pause between pages is not under test
    # The sandbox seeds the twelve weeks before now: a first sync walks back a little further, not a whole year.
    settings.EXPORTS_HISTORY_DAYS = 100
    return settings.EXPORTS_DIR


@pytest.fixture
def connect(browser_session, sandbox_accounts):  # noqa: F811
    """connect("kucoin") -> the portal user's active connection to the sandbox's trader account."""

    def make(exchange_id: str, account: str = "trader") -> ExchangeConnection:
        response = browser_session.connect(exchange_id, sandbox_accounts[exchange_id][account])
        assert response.status_code == 302 and response.headers["Location"] == "/", response.text[:1000]
        return ExchangeConnection.objects.get(exchange=exchange_id, status="active")

    return make
