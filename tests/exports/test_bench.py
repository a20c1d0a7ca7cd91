"""The export benchmark's core with tiny sizes, so it keeps working (its figures live in bench/README.md)."""

import pytest

from bench.export.core import bench_connection, measure

pytestmark = pytest.mark.django_db(transaction=True)


def test_benchmark_core_runs_every_measurement():
    for mode in ("copy_same_select", "copy_raw_columns", "export", "export_python"):
        figures = measure(40, mode)
        assert figures["seconds"] >= 0 and figures["peak_rss_mib"] > 0
    assert bench_connection(40).history_entries.count() == 40  # seeded once, reused
