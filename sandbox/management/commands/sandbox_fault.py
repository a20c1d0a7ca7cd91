import json

from django.core.management.base import BaseCommand, CommandError

from sandbox import clock, faults
from sandbox.models import Fault


class Command(BaseCommand):
    help = "Inject, list or clear sandbox faults, and shift the sandbox clock."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["set", "list", "clear", "clock"])
        parser.add_argument("--exchange")
        parser.add_argument("--endpoint", help='endpoint name (e.g. "token") or path (e.g. "/oauth/token")')
        parser.add_argument("--kind", choices=Fault.Kind.values)
        parser.add_argument("--count", type=int, help="only the next N calls (default: until cleared)")
        parser.add_argument("--probability", type=float, default=1.0)
        parser.add_argument("--delay", type=float, default=0, help="seconds, for slow and hang")
        parser.add_argument("--retry-after", type=int, default=1)
        parser.add_argument("--offset", type=float, help="clock offset in seconds (with the clock action)")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "set":
            if not (options["exchange"] and options["endpoint"] and options["kind"]):
                raise CommandError("set needs --exchange, --endpoint and --kind")
            fault = faults.fault_set(
                exchange=options["exchange"],
                endpoint=options["endpoint"],
                kind=options["kind"],
                count=options["count"],
                probability=options["probability"],
                delay_seconds=options["delay"],
                retry_after=options["retry_after"],
            )
            self.stdout.write(json.dumps(faults.fault_describe(fault)))
        elif action == "list":
            self.stdout.write(json.dumps([faults.fault_describe(fault) for fault in Fault.objects.order_by("id")]))
        elif action == "clear":
            self.stdout.write(json.dumps({"cleared": faults.fault_clear(exchange=options["exchange"])}))
        else:
            if options["offset"] is not None:
                clock.set_offset(options["offset"])
            self.stdout.write(json.dumps({"offset_seconds": clock.offset_seconds(), "now": clock.now().isoformat()}))
