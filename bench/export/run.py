"""Koinly CSV and XLSX exports of 10k to 10M ledger rows in PostgreSQL, against PostgreSQL's own COPY as the floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/exports_bench python bench/export/run.py \
        [--sizes 10000,100000,1000000,10000000] [--skip-python-above N] [--skip-xlsx-above N]

Each measurement runs in a fresh process, its memory sampled while it runs (Linux only: /proc/self/statm). The
last line is JSON."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup_django(exports_dir: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "broker_portal.settings.development")
    os.environ["EXPORTS_DIR"] = exports_dir
    import django

    django.setup()


def summary(mode: str, figures: dict) -> str:
    size = f", {figures['bytes'] / (1 << 20):.0f} MiB file" if "bytes" in figures else ""
    return f"{mode} {figures['seconds']:.3f} s (RSS +{figures['rss_growth_mib']:.0f} MiB{size})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--one", nargs=2, metavar=("ROWS", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-python", action="store_true", help="leave out the Python CSV writer at every size")
    parser.add_argument(
        "--skip-python-above", type=int, metavar="ROWS", help="leave out the Python CSV writer above this many rows"
    )
    parser.add_argument("--skip-xlsx-above", type=int, metavar="ROWS", help="leave out XLSX above this many rows")
    args = parser.parse_args()
    if not Path("/proc/self/statm").exists():
        sys.exit("Linux only: memory is sampled from /proc/self/statm.")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is migrated and filled with benchmark rows).")
    exports_dir = os.environ.get("EXPORTS_DIR") or tempfile.mkdtemp(prefix="bench-export-")
    setup_django(exports_dir)
    from bench.export.core import MODES, bench_connection, measure

    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1])))
        return
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = {}
    for rows in (int(size) for size in args.sizes.split(",")):
        bench_connection(rows)  # seed once, outside the measured processes
        figures = {}
        skipped = {
            "export_python": args.skip_python or (args.skip_python_above is not None and rows > args.skip_python_above),
            "export_xlsx": args.skip_xlsx_above is not None and rows > args.skip_xlsx_above,
        }
        for mode in MODES:
            if skipped.get(mode):
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
            f"{rows:>9} rows: "
            + "; ".join(summary(mode, figures[mode]) for mode in MODES if mode in figures)
            + f"; export / COPY {figures['ratio_to_copy']} (raw columns {figures['ratio_to_raw_copy']})",
            flush=True,
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
