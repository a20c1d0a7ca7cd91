"""Encryption at rest and the RSA key pair Kraken encrypts client secrets to.

Every encrypted value uses ``FERNET_KEYS``: the first key encrypts, every key
decrypts, so keys rotate by putting a new key first, re-encrypting, then
dropping the old one. A value no key opens raises ``InvalidToken``: it never
comes back as ciphertext posing as the value.
"""

import base64
import binascii

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from fernet_fields import EncryptedField
from fernet_fields.hkdf import derive_fernet_key

RSA_KEY_BITS = 4096


class SecretDecryptionError(ValueError):
    """The value given cannot be decrypted with the key we hold."""


def fernet() -> MultiFernet:
    # Same derivation as fernet_fields, so one key list serves model fields and other stored secrets.
    return MultiFernet([Fernet(derive_fernet_key(key)) for key in settings.FERNET_KEYS])


def encrypt_text(text: str) -> str:
    return fernet().encrypt(text.encode()).decode()


def decrypt_text(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def encrypted_fields():
    """(model, [field names]) for every model with encrypted fields."""
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if names:
            yield model, names


@receiver(setting_changed)
def forget_cached_keys(*, setting, **kwargs):
    # fernet_fields caches its key list per field; a changed key list must reach them.
    if setting not in ("FERNET_KEYS", "SECRET_KEY"):
        return
    for model, names in encrypted_fields():
        for name in names:
            field = model._meta.get_field(name)
            for attr in ("keys", "fernet_keys", "fernet"):
                field.__dict__.pop(attr, None)


def generate_rsa_key_pair() -> tuple[str, str]:
    """A new (private PEM, public PEM) pair; the private half is stored encrypted by the caller."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def decrypt_rsa_secret(*, private_pem: str, encrypted_b64: str) -> str:
    """What ``base64 -d | openssl rsautl -decrypt -inkey private.pem`` prints: PKCS#1 v1.5 padding."""
    try:
        ciphertext = base64.b64decode("".join(encrypted_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SecretDecryptionError("The encrypted secret is not valid base64.")
    private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    try:
        # OpenSSL's implicit rejection answers a wrong key with random bytes, not an error,
        # so bytes that are not text mean the same as a padding error.
        return private_key.decrypt(ciphertext, padding.PKCS1v15()).decode().strip()
    except (ValueError, UnicodeDecodeError):
        raise SecretDecryptionError("This secret was not encrypted to this credential's public key.")
