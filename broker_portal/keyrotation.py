"""Re-encrypt every stored secret with the first of FERNET_KEYS, so older keys can be dropped.

Safe with workers running: each row is rewritten in its own short transaction, read and written under the
row's lock (FOR NO KEY UPDATE, the lock connectors/token_refresh.py takes across a token refresh), so a refresh
that commits meanwhile is read after it commits and never overwritten with the pair it replaced. One row
per transaction keeps each lock brief; a rerun is harmless (values already under the first key stay so).
"""

from allauth.mfa.models import Authenticator
from django.db import transaction

from . import crypto

BATCH_SIZE = 500
# Where allauth keeps MFA secrets inside Authenticator.data, encrypted through our MFA adapter.
AUTHENTICATOR_SECRET_KEYS = ("secret", "seed")


def reencrypt_model_fields() -> dict[str, int]:
    """Read (any key decrypts) and write back (the first key encrypts) each encrypted column."""
    counts = {}
    for model, names in crypto.encrypted_fields():
        count = 0
        manager = model._default_manager
        # Row by row: bulk_update would wrap values in CASE expressions that fernet_fields cannot encrypt.
        for pk in manager.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=BATCH_SIZE):
            with transaction.atomic():
                row = manager.select_for_update(no_key=True).only("pk", *names).filter(pk=pk).first()
                if row is None:  # deleted since the listing
                    continue
                row.save(update_fields=names)
            count += 1
        counts[model._meta.label] = count
    return counts


def reencrypt_authenticators() -> int:
    count = 0
    for pk in Authenticator.objects.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=BATCH_SIZE):
        # Under the row's lock, like the model fields: allauth rewrites data (e.g. recovery codes used).
        with transaction.atomic():
            authenticator = Authenticator.objects.select_for_update(no_key=True).filter(pk=pk).first()
            if authenticator is None:
                continue
            for key in AUTHENTICATOR_SECRET_KEYS:
                if key in authenticator.data:
                    authenticator.data[key] = crypto.encrypt_text(crypto.decrypt_text(authenticator.data[key]))
            authenticator.save(update_fields=["data"])
        count += 1
    return count


def reencrypt_all() -> dict[str, int]:
    counts = reencrypt_model_fields()
    counts[Authenticator._meta.label] = reencrypt_authenticators()
    return counts
