"""Damage as the security tests need it: a stored secret no configured key opens."""

from cryptography.fernet import Fernet
from django.db import connection as db

from connectors.models import ExchangeConnection


def corrupt(connection: ExchangeConnection, field: str) -> None:
    """What a key dropped from FERNET_KEYS leaves behind: a ciphertext no configured key opens."""
    with db.cursor() as cursor:
        cursor.execute(
            f"UPDATE connectors_exchangeconnection SET {field} = %s WHERE id = %s",
            [Fernet(Fernet.generate_key()).encrypt(b"lost"), connection.pk],
        )
