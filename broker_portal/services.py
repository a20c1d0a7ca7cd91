"""Writes of the portal core. Each records its audit event in the same transaction."""

from django.db import transaction

from .audit import record_audit_event
from .models import Membership, Tenant, TenantHost, User


@transaction.atomic
def tenant_create(*, name: str, slug: str, hosts: list[str], **branding) -> Tenant:
    tenant = Tenant.objects.create(name=name, slug=slug, **branding)
    TenantHost.objects.bulk_create([TenantHost(tenant=tenant, host=host.lower()) for host in hosts])
    return tenant


@transaction.atomic
def member_create(
    *, tenant: Tenant, email: str, password: str | None, role: str, request=None, email_verified: bool = False
) -> User:
    """A new user of this tenant with the given role; the e-mail is their sign-in."""
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(email=email, password=password)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=email_verified)
    membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    record_audit_event(
        tenant=tenant,
        action="member.created",
        target=membership,
        request=request,
        details={"email": user.email, "role": role},
    )
    return user


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, request=None) -> Membership:
    """One audit event per real change. The "from" is the stored role: an admin form has already put the new role
    on the instance it passes in."""
    previous = Membership.objects.select_for_update().values_list("role", flat=True).get(pk=membership.pk)
    membership.role = role
    if previous == role:
        return membership
    membership.save(update_fields=["role"])
    record_audit_event(
        tenant=membership.tenant,
        action="member.role_changed",
        target=membership,
        request=request,
        details={"from": previous, "to": role},
    )
    return membership


@transaction.atomic
def membership_add(*, tenant: Tenant, user: User, role: str, request=None) -> Membership:
    """An existing user joins one more tenant."""
    membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    record_audit_event(
        tenant=tenant,
        action="member.created",
        target=membership,
        request=request,
        details={"email": user.email, "role": role},
    )
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership, request=None) -> None:
    """The user leaves this tenant; their account and other tenants' memberships stay."""
    record_audit_event(
        tenant=membership.tenant,
        action="member.removed",
        target=membership,
        request=request,
        details={"email": membership.user.email, "role": membership.role},
    )
    membership.delete()
