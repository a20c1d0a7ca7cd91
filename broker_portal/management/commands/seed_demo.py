import json

from django.core.management.base import BaseCommand

from broker_portal.demo import seed_demo


class Command(BaseCommand):
    help = "Create (or bring back) the demo tenants, users and exchange clients. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print what was created as one JSON object.")

    def handle(self, *args, **options):
        result = seed_demo()
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for tenant in result["tenants"]:
            self.stdout.write(f"{tenant['name']}: {tenant['url']}")
            for user in tenant["users"]:
                mfa = f"  (TOTP secret {user['totp_secret']})" if "totp_secret" in user else ""
                self.stdout.write(f"  {user['role']:<13} {user['email']} / {user['password']}{mfa}")
