import json

from django.core.management.base import BaseCommand

from broker_portal.demo import describe, portal_port, seed_demo


class Command(BaseCommand):
    help = "Create (or bring back) the demo tenants, users and exchange clients. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print what was created as one JSON object.")

    def handle(self, *args, **options):
        result = seed_demo()
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for line in describe(result, f"http://localhost:{portal_port()}/sandbox/"):
            self.stdout.write(line)
