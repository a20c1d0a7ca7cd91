"""The export benchmark's core with tiny sizes, so it keeps working (its figures live in bench/README.md)."""

import pytest

from bench.export.core import MODES, bench_connection, measure, measured

pytestmark = pytest.mark.django_db(transaction=True)


def test_benchmark_core_runs_every_measurement():
    assert {"copy_same_select", "copy_raw_columns", "export", "export_python", "export_xlsx"} == set(MODES)
    sizes = {}
    for mode in MODES:
        figures = measure(40, mode)  # an export asserts it wrote the 40 rows
        assert figures["seconds"] >= 0
        assert 0 < figures["rss_start_mib"] <= figures["rss_peak_mib"] and figures["max_rss_mib"] > 0
        assert figures["rss_growth_mib"] == pytest.approx(figures["rss_peak_mib"] - figures["rss_start_mib"], abs=0.11)
        if mode.startswith("export"):
            sizes[mode] = figures["bytes"]
    # The Koinly CSV by either writer is the same file; the XLSX is another file of the same rows.
    assert sizes["export"] == sizes["export_python"] > 0 and sizes["export_xlsx"] not in (0, sizes["export"])
    assert bench_connection(40).history_entries.count() == 40  # seeded once, reused


def test_memory_is_measured_as_growth_over_the_start_of_the_block():
    with measured() as idle:
        pass
    with measured() as busy:
        block = b"\x01" * (64 << 20)  # written, so resident
    assert len(block) == 64 << 20
    assert idle["rss_start_mib"] > 0 and idle["rss_growth_mib"] < 5
    assert busy["rss_growth_mib"] >= 60 and busy["rss_peak_mib"] >= busy["rss_start_mib"] + 60
