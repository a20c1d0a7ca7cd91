"""The one way to record an audit event."""

from django.db import models

from .models import AuditEvent, Tenant, User

# Keys whose values never belong in an audit row, whatever a caller passes.
SECRET_DETAIL_KEYS = frozenset(
    {
        "password",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "passphrase",
        "code",
        "private_key",
        "api_secret",
    }
)


def client_ip(request) -> str | None:
    # REMOTE_ADDR is what the socket saw; a proxy in front sets it through its own middleware.
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_audit_event(
    *,
    tenant: Tenant,
    action: str,
    actor: User | None = None,
    target: models.Model | None = None,
    request=None,
    details: dict | None = None,
) -> AuditEvent:
    """Write one event. Call it inside the transaction of the change it describes."""
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if request.user.is_authenticated else None
    clean_details = {key: value for key, value in (details or {}).items() if key not in SECRET_DETAIL_KEYS}
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor,
        actor_repr=str(actor) if actor else "",
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        details=clean_details,
    )
