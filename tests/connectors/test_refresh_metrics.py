"""A real refresh against the live sandbox is counted, with its outcome and duration, where /metrics reads it."""

import pytest

from connectors.token_refresh import Outcome, connection_refresh
from sandbox import faults as sandbox_faults
from tests.helpers import metric

pytestmark = pytest.mark.django_db(transaction=True)
HISTOGRAM = "portal_token_refresh_duration_seconds"


def test_refresh_attempts_are_counted_by_outcome_with_their_duration(make_connection, scrape_metrics):  # noqa: F811
    connection = make_connection("kraken")
    sandbox_faults.fault_set(exchange="kraken", endpoint="token", kind="slow", count=1, delay_seconds=0.6)
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
    sandbox_faults.fault_set(exchange="kraken", endpoint="token", kind="500", count=1)
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.RETRY
    # Not due: no call to the exchange, nothing counted.
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.FRESH

    samples = scrape_metrics()
    refreshed = {"exchange": "kraken", "outcome": "refreshed"}
    assert metric(samples, f"{HISTOGRAM}_count", **refreshed) == 1
    # The slowed call lies above the 0.5 s bucket.
    assert metric(samples, f"{HISTOGRAM}_bucket", le="0.5", **refreshed) == 0
    assert metric(samples, f"{HISTOGRAM}_sum", **refreshed) >= 0.6
    assert metric(samples, f"{HISTOGRAM}_count", exchange="kraken", outcome="retry") == 1
    assert sum(value for (name, _), value in samples.items() if name == f"{HISTOGRAM}_count") == 2
