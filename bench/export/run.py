"""Koinly CSV export of 10k, 100k and 1M ledger rows in PostgreSQL, against PostgreSQL's own COPY as the floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/exports_bench python bench/export/run.py [--sizes 10000,100000]

Each measurement runs in a fresh process (peak memory is that process's max RSS). The last line is JSON."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODES = ("copy_same_select", "copy_raw_columns", "export", "export_python")


def setup_django(exports_dir: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "broker_portal.settings.development")
    os.environ["EXPORTS_DIR"] = exports_dir
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--one", nargs=2, metavar=("ROWS", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-python", action="store_true", help="leave out the Python writer (slow at 1M)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is migrated and filled with benchmark rows).")
    exports_dir = os.environ.get("EXPORTS_DIR") or tempfile.mkdtemp(prefix="bench-export-")
    setup_django(exports_dir)
    from bench.export.core import bench_connection, measure

    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1])))
        return
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = {}
    for rows in (int(size) for size in args.sizes.split(",")):
        bench_connection(rows)  # seed once, outside the measured processes
        figures = {}
        for mode in MODES:
            if mode == "export_python" and args.skip_python:
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(rows), mode],
                check=True,
                text=True,
                capture_output=True,
                env={**os.environ, "EXPORTS_DIR": exports_dir},
            ).stdout
            figures[mode] = json.loads(out.strip().splitlines()[-1])
        figures["ratio_to_copy"] = round(figures["export"]["seconds"] / figures["copy_same_select"]["seconds"], 2)
        figures["ratio_to_raw_copy"] = round(figures["export"]["seconds"] / figures["copy_raw_columns"]["seconds"], 2)
        results[str(rows)] = figures
        print(
            f"{rows:>9} rows: export {figures['export']['seconds']:.3f} s "
            f"(peak {figures['export']['peak_rss_mib']:.0f} MiB); COPY of the same SELECT "
            f"{figures['copy_same_select']['seconds']:.3f} s (ratio {figures['ratio_to_copy']}); COPY of the raw "
            f"columns {figures['copy_raw_columns']['seconds']:.3f} s (ratio {figures['ratio_to_raw_copy']})"
            + (
                f"; Python writer {figures['export_python']['seconds']:.3f} s "
                f"(peak {figures['export_python']['peak_rss_mib']:.0f} MiB)"
                if "export_python" in figures
                else ""
            ),
            flush=True,
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
