"""python -m bench.webhooks --n 1000   (see bench/README.md, "Webhooks")

Migrates the database, runs the benchmark against a receiver in this process, prints one JSON object last."""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000, help="deliveries per measurement")
    parser.add_argument("--endpoints", type=int, default=4, help="endpoints the Celery measurement spreads them on")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is migrated and gets benchmark rows).")
    if not os.environ.get("CELERY_BROKER_URL"):
        sys.exit("Set CELERY_BROKER_URL to a Redis database of your own (its queue is consumed).")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "broker_portal.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    from bench.webhooks.core import run

    call_command("migrate", verbosity=0)
    results = run(n=args.n, endpoints=args.endpoints)
    print(
        f"in process: {results['in_process']['per_second']} deliveries/s "
        f"({results['in_process']['queries_per_delivery']} queries each); "
        f"through Celery: {results['celery']['per_second']} deliveries/s; "
        f"bare requests: {results['bare']['per_second']} posts/s"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
