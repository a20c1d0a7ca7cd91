"""Re-encrypt every stored secret with the first of FERNET_KEYS, so older keys can be dropped."""

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
        # Row by row: bulk_update would wrap values in CASE expressions that fernet_fields cannot encrypt.
        for row in model._default_manager.only("pk", *names).order_by("pk").iterator(chunk_size=BATCH_SIZE):
            row.save(update_fields=names)
            count += 1
        counts[model._meta.label] = count
    return counts


def reencrypt_authenticators() -> int:
    changed = []
    for authenticator in Authenticator.objects.order_by("pk"):
        for key in AUTHENTICATOR_SECRET_KEYS:
            if key in authenticator.data:
                authenticator.data[key] = crypto.encrypt_text(crypto.decrypt_text(authenticator.data[key]))
        changed.append(authenticator)
    Authenticator.objects.bulk_update(changed, ["data"], batch_size=BATCH_SIZE)
    return len(changed)


@transaction.atomic
def reencrypt_all() -> dict[str, int]:
    counts = reencrypt_model_fields()
    counts[Authenticator._meta.label] = reencrypt_authenticators()
    return counts
