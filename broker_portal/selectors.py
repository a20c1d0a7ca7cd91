"""Reads of the portal core."""

from connectors.exchanges import EXCHANGES

from .models import ExchangeCredential, Membership, Tenant, User


def tenant_offered_exchanges(*, tenant: Tenant) -> list[dict]:
    """The exchanges this tenant has configured and enabled, with the permissions users may grant."""
    credentials = ExchangeCredential.objects.filter(tenant=tenant, is_enabled=True)
    offered = []
    for credential in credentials:
        exchange = EXCHANGES.get(credential.exchange)
        if exchange is None:
            continue
        allowed = set(credential.allowed_permissions)
        offered.append({
            "exchange": exchange,
            "credential": credential,
            "permissions": [p for p in exchange.permissions if p.code in allowed],
        })
    return sorted(offered, key=lambda item: item["exchange"].name)


def user_belongs_to_tenant_only(*, user: User, tenant: Tenant) -> bool:
    """Whether this tenant alone answers for the account: no membership elsewhere, and not a superuser.

    Only then may the tenant's broker admin change the account's e-mail or delete it; otherwise an edit at one
    broker would take over (or erase) the person's access at another.
    """
    return not user.is_superuser and not user.memberships.exclude(tenant=tenant).exists()


def broker_admin_emails(*, tenant_id: int) -> list[str]:
    """Where alerts for a tenant's broker admins go: its active admins' addresses."""
    return sorted(Membership.objects.filter(tenant_id=tenant_id, role=Membership.Role.BROKER_ADMIN,
                                            user__is_active=True).exclude(user__email="")
                  .values_list("user__email", flat=True))
