import json

from django.core.management.base import BaseCommand

from sandbox.services import seed_accounts


class Command(BaseCommand):
    help = "Create the sandbox users of every exchange with balances, 2FA and deterministic histories."

    def add_arguments(self, parser):
        parser.add_argument("--history-rows", type=int, default=200, help="rows per history kind per account")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true", help="print the accounts as JSON")

    def handle(self, *args, **options):
        accounts = seed_accounts(history_rows=options["history_rows"], seed=options["seed"])
        if options["json"]:
            self.stdout.write(json.dumps(accounts, indent=2))
            return
        for exchange, users in accounts.items():
            for user in users:
                totp = user["totp_secret"] or "no 2FA"
                self.stdout.write(f"{exchange:7} {user['email']:28} {user['password']:20} {totp}")
