"""The refresh benchmark's core, with a tiny N against the live server's sandbox, so that it cannot rot.
(The benchmark itself runs against the sandbox as a separate process: see bench/README.md.)"""

import pytest

from bench.refresh.core import run
from connectors.models import ExchangeConnection

pytestmark = pytest.mark.django_db(transaction=True)


def test_benchmark_core_runs_and_reports_its_figures(live_server):
    lines = []
    figures = run(sandbox_url=live_server.url, n=20, chunk=2, timeout=60, say=lines.append)
    assert figures["n"] == 20 and figures["ratio"] > 0 and figures["bare_requests_per_second"] > 0
    assert figures["queries_per_refresh"] <= 5  # the first refresh also builds the provider
    assert ExchangeConnection.objects.filter(last_refreshed_at__isnull=False, status="active").count() == 20
    spread = figures["chunk_ratio"]  # ten chunks: enough for the spread
    assert 0 < spread["p10"] <= spread["median"] <= spread["p90"]
    assert lines[-1].startswith("ratio: ") and lines[-2].startswith("ratio of each chunk of 2: median ")


def test_benchmark_bare_side_runs_loops_in_parallel(live_server):
    figures = run(sandbox_url=live_server.url, n=4, chunk=4, timeout=60, concurrency=2, say=lambda line: None)
    assert figures["concurrency"] == 2 and figures["bare_requests_per_second"] > 0
    assert ExchangeConnection.objects.filter(last_refreshed_at__isnull=False, status="active").count() == 4
