import base64

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.core.management import call_command
from django.db import connection

from broker_portal import crypto
from connectors import services as connector_services
from connectors.models import ExchangeCredential
from tests.helpers import make_member

pytestmark = pytest.mark.django_db

CLIENT_SECRET = "plain-client-secret-4711"
BROKER_KEY = "plain-broker-key-0815"


def stored_row(table, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        return " ".join(str(bytes(v) if isinstance(v, memoryview) else v) for v in cursor.fetchone())


@pytest.fixture
def credential(tenant):
    credential = ExchangeCredential(
        tenant=tenant,
        exchange="kraken",
        client_id="kraken-client",
        authorize_base_url="https://id.kraken.test",
        api_base_url="https://api.kraken.test",
    )
    connector_services.credential_save(
        credential=credential, changed_fields=[], new_client_secret=CLIENT_SECRET, new_broker_key=BROKER_KEY
    )
    return connector_services.credential_generate_rsa_key_pair(credential=credential)


def test_secrets_are_not_stored_in_plaintext(credential, tenant):
    user = make_member(tenant, "staff@alpha.example")
    totp_secret = pyotp.random_base32()
    authenticator = TOTP.activate(user, totp_secret).instance

    row = stored_row("broker_portal_exchangecredential", credential.pk)
    assert CLIENT_SECRET not in row and BROKER_KEY not in row
    assert "PRIVATE KEY" not in row
    private_body = credential.rsa_private_key.splitlines()[1]
    assert private_body not in row
    assert totp_secret not in stored_row("mfa_authenticator", authenticator.pk)

    fresh = ExchangeCredential.objects.get(pk=credential.pk)
    assert fresh.client_secret == CLIENT_SECRET and fresh.broker_key == BROKER_KEY
    assert TOTP(Authenticator.objects.get(pk=authenticator.pk)).validate_code(pyotp.TOTP(totp_secret).now())


def test_a_wrong_key_fails_loudly_instead_of_returning_ciphertext(credential, settings):
    settings.FERNET_KEYS = ["some-other-key"]
    with pytest.raises(InvalidToken):
        ExchangeCredential.objects.get(pk=credential.pk)


def test_rotation_reencrypts_everything_so_the_old_key_can_go(credential, tenant, settings):
    user = make_member(tenant, "rotating@alpha.example")
    totp_secret = pyotp.random_base32()
    TOTP.activate(user, totp_secret)

    settings.FERNET_KEYS = ["brand-new-key", *settings.FERNET_KEYS]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))
    settings.FERNET_KEYS = ["brand-new-key"]

    fresh = ExchangeCredential.objects.get(pk=credential.pk)
    assert fresh.client_secret == CLIENT_SECRET
    assert fresh.rsa_private_key == credential.rsa_private_key
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    assert crypto.decrypt_text(authenticator.data["secret"]) == totp_secret


def test_kraken_issued_secret_is_decrypted_like_openssl_rsautl(credential):
    public_key = serialization.load_pem_public_key(credential.rsa_public_key.encode())
    issued = base64.b64encode(public_key.encrypt(b"kraken-issued-secret\n", padding.PKCS1v15())).decode()
    assert connector_services.credential_decrypt_issued_secret(credential=credential, encrypted_b64=issued) == (
        "kraken-issued-secret"
    )
    with pytest.raises(crypto.SecretDecryptionError):
        connector_services.credential_decrypt_issued_secret(credential=credential, encrypted_b64="not base64!")
    other_private, other_public = crypto.generate_rsa_key_pair()
    foreign = serialization.load_pem_public_key(other_public.encode())
    to_someone_else = base64.b64encode(foreign.encrypt(b"x" * 32, padding.PKCS1v15())).decode()
    with pytest.raises(crypto.SecretDecryptionError):
        connector_services.credential_decrypt_issued_secret(credential=credential, encrypted_b64=to_someone_else)
