"""The sandbox's entry points for the portal and its commands: registering clients, seeding accounts."""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.contrib.auth.hashers import check_password

from .exchanges import PROFILES
from .models import Client, SandboxUser
from .seeding import seed_accounts  # noqa: F401  (part of this module's interface)


def client_register(
    *,
    exchange: str,
    client_id: str,
    client_secret: str,
    client_type: str = "confidential",
    redirect_uris: list[str],
    permissions: list[str],
    rsa_public_key: str = "",
    api_broker: bool = True,
    ip_allowlist: list[str] | tuple[str, ...] = (),
    broker_name: str = "",
) -> dict:
    """Register (or update) a broker application, as the exchange's partner team would. ``api_broker`` and
    ``ip_allowlist`` are what OKX's broker onboarding settles (Fast API permission, the server IP allowlist).

    KuCoin issues a broker name of its own beside the partner id (the sandbox's partner id is the client id);
    one is made up where none is given, and returned."""
    if exchange not in PROFILES:
        raise ValueError(f"Unknown exchange {exchange!r}.")
    if client_type not in Client.Type.values:
        raise ValueError(f"client_type must be one of {Client.Type.values}.")
    if exchange == "kucoin":
        broker_name = broker_name or f"{client_id}-broker-name"
    Client.objects.update_or_create(
        exchange=exchange,
        client_id=client_id,
        defaults={
            "client_secret": "" if client_type == Client.Type.PUBLIC else client_secret,
            "client_type": client_type,
            "redirect_uris": list(redirect_uris),
            "permissions": list(permissions),
            "rsa_public_key": rsa_public_key,
            "api_broker": api_broker,
            "ip_allowlist": list(ip_allowlist),
            "broker_name": broker_name,
        },
    )
    result = {"client_id": client_id, "client_secret": client_secret}
    if exchange == "kucoin":
        result["broker_name"] = broker_name
    if exchange == "kraken" and client_type == Client.Type.CONFIDENTIAL and rsa_public_key:
        result["encrypted_client_secret"] = encrypt_for(rsa_public_key, client_secret)
    return result


def encrypt_for(rsa_public_key_pem: str, secret: str) -> str:
    """Kraken issues the client secret RSA-encrypted (PKCS#1 v1.5, what `openssl rsautl` expects), base64."""
    public_key = serialization.load_pem_public_key(rsa_public_key_pem.encode())
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("The client secret is encrypted for an RSA public key; this is another kind of key.")
    return base64.b64encode(public_key.encrypt(secret.encode(), padding.PKCS1v15())).decode()


def user_sign_in(exchange: str, email: str, password: str) -> SandboxUser | None:
    user = SandboxUser.objects.filter(exchange=exchange, email__iexact=(email or "").strip()).first()
    if user is None or not check_password(password or "", user.password):
        return None
    return user
