"""Every staff page, the exports page and the API lists, for a broker's big tenant and a small one.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pages_bench python bench/pages/run.py [--scale 1] [--repeat 5]

The big tenant (10k users, 50k connections, 100k withdrawals, 1M history rows and audit events at --scale 1) and
the small one are seeded once and kept. Pages run in process with the production settings' database options
(prepared statements, a kept connection); each figure is the median of --repeat requests. The small tenant's
audit page after the big tenant's is measured under DATABASE_PLAN_CACHE_MODE=auto and force_custom_plan, each in
its own process. The last line is JSON."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "broker_portal.settings.development")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")  # as production keeps it (60 s), for the whole run
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [".localhost"]
    # Static files by name, as the test settings serve them: no collected manifest is needed to render a page.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plans-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is migrated and filled with benchmark rows).")
    setup_django()
    from bench.pages.core import run

    if args.one:
        print(json.dumps(run(scale=args.scale, repeat=args.repeat, plans_only=args.plans_only)))
        return
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    common = [sys.executable, __file__, "--one", "--scale", str(args.scale), "--repeat", str(args.repeat)]
    result = measured(common, "force_custom_plan")
    result["plans_auto"] = measured([*common, "--plans-only"], "auto")["plans"]
    print(f"{'page':<26}{'big: queries':>13}{'ms':>8}{'db ms':>8}{'KiB':>6}{'small: queries':>16}{'ms':>8}{'db ms':>8}")
    for name, big in result["big"].items():
        small = result["small"][name]
        print(
            f"{name:<26}{big['queries']:>13}{big['ms']:>8}{big['db_ms']:>8}{big['bytes'] / 1024:>6.0f}"
            f"{small['queries']:>16}{small['ms']:>8}{small['db_ms']:>8}"
        )
    for mode, plans in (("force_custom_plan", result["plans"]), ("auto", result["plans_auto"])):
        print(
            f"plan_cache_mode={mode}: the small tenant's audit page {plans['small_alone_ms']} ms alone, "
            f"{plans['small_after_big_ms']} ms after the big tenant's on the same connection"
        )
    print(json.dumps(result))


def measured(command: list[str], plan_cache_mode: str) -> dict:
    done = subprocess.run(
        command, text=True, capture_output=True, env={**os.environ, "DATABASE_PLAN_CACHE_MODE": plan_cache_mode}
    )
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
