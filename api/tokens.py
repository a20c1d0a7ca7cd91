"""API tokens: created and revoked by their user in the portal, looked up by hash, bound to a tenant."""

import hashlib
import hmac
import secrets

from django.db import transaction
from django.utils import timezone

from broker_portal.audit import record_audit_event

from .models import ApiToken

TOKEN_PREFIX = "bp"


def hash_key(key: str) -> str:
    # The key is 32 random bytes, so a plain SHA-256 cannot be reversed by guessing.
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, tenant, user, name: str, expires_at=None, request=None) -> tuple[ApiToken, str]:
    """A new token and its key; the key exists only in this return value."""
    prefix = secrets.token_hex(4)
    key = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        tenant=tenant, user=user, name=name, prefix=prefix, key_hash=hash_key(key), expires_at=expires_at
    )
    record_audit_event(
        tenant=tenant,
        action="api_token.created",
        actor=user,
        target=token,
        request=request,
        details={"name": name, "prefix": prefix, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, request=None) -> ApiToken:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record_audit_event(
        tenant=token.tenant, action="api_token.revoked", target=token, request=request, details={"prefix": token.prefix}
    )
    return token


def token_for_key(key: str, *, tenant) -> ApiToken | None:
    """The live token this key belongs to at this tenant, or None (another tenant's key is no key here)."""
    parts = key.split("_", 2)  # the secret part may itself contain "_"
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if token is None or token.tenant_id != getattr(tenant, "pk", None):
        return None
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None
    if not hmac.compare_digest(token.key_hash, hash_key(key)):
        return None
    return token
