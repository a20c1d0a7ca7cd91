"""Real history sync passes against the live sandbox are counted, completed or failed, where /metrics reads them."""

import pytest
import requests

from connectors.base.http import ExchangeUnavailable
from exports.services.sync import sync_connection_history
from tests.helpers import metric

pytestmark = pytest.mark.django_db(transaction=True)


def ledger_passes(samples) -> dict:
    return {
        outcome: metric(
            samples, "portal_history_sync_duration_seconds_count", exchange="kucoin", kind="ledger", outcome=outcome
        )
        for outcome in ("completed", "failed")
    }


def test_sync_passes_are_counted_by_outcome(connect, portal, scrape_metrics):
    connection = connect("kucoin")
    faults = f"{portal['url']}/sandbox/control/faults"
    requests.post(faults, json={"exchange": "kucoin", "endpoint": "ledgers", "kind": "500"}).raise_for_status()
    with pytest.raises(ExchangeUnavailable):
        sync_connection_history(connection=connection, kinds=["ledger"])
    assert ledger_passes(scrape_metrics()) == {"completed": 0, "failed": 1}
    requests.delete(faults).raise_for_status()
    sync_connection_history(connection=connection, kinds=["ledger"])
    assert ledger_passes(scrape_metrics()) == {"completed": 1, "failed": 1}
