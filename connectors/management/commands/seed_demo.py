import json

from django.core.management.base import BaseCommand, CommandError

from connectors.demo import SandboxUnavailable, describe, seed_demo


class Command(BaseCommand):
    help = "Create (or bring back) the demo tenants, users and exchange clients. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print what was created as one JSON object.")

    def handle(self, *args, **options):
        try:
            result = seed_demo()
        except SandboxUnavailable as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for line in describe(result):
            self.stdout.write(line)
