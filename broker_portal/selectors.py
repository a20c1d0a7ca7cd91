"""Reads of the portal core."""

from .models import Membership, Tenant, User


def user_belongs_to_tenant_only(*, user: User, tenant: Tenant) -> bool:
    """Whether this tenant alone answers for the account: no membership elsewhere, and not a superuser.

    Only then may the tenant's broker admin change the account's e-mail or delete it; otherwise an edit at one
    broker would take over (or erase) the person's access at another.
    """
    return not user.is_superuser and not user.memberships.exclude(tenant=tenant).exists()


def broker_admin_emails(*, tenant_id: int) -> list[str]:
    """Where alerts for a tenant's broker admins go: its active admins' addresses."""
    return sorted(
        Membership.objects.filter(tenant_id=tenant_id, role=Membership.Role.BROKER_ADMIN, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
