from django.core.management.base import BaseCommand

from broker_portal.keyrotation import reencrypt_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first FERNET_KEYS entry. Put the new key first, run this, "
        "then remove the old key."
    )

    def handle(self, *args, **options):
        for label, count in reencrypt_all().items():
            self.stdout.write(f"{label}: {count} rows re-encrypted")
