"""Writes of the portal core. Each records its audit event in the same transaction."""

from django.db import transaction

from . import crypto
from .audit import record_audit_event
from .models import ExchangeCredential, Membership, Tenant, TenantHost, User


@transaction.atomic
def tenant_create(*, name: str, slug: str, hosts: list[str], **branding) -> Tenant:
    tenant = Tenant.objects.create(name=name, slug=slug, **branding)
    TenantHost.objects.bulk_create([TenantHost(tenant=tenant, host=host.lower()) for host in hosts])
    return tenant


@transaction.atomic
def member_create(*, tenant: Tenant, email: str, password: str | None, role: str, request=None,
                  email_verified: bool = False) -> User:
    """A new user of this tenant with the given role; the e-mail is their sign-in."""
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(email=email, password=password)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=email_verified)
    membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    record_audit_event(tenant=tenant, action="member.created", target=membership, request=request,
                       details={"email": user.email, "role": role})
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
    record_audit_event(tenant=membership.tenant, action="member.role_changed", target=membership, request=request,
                       details={"from": previous, "to": role})
    return membership


@transaction.atomic
def membership_add(*, tenant: Tenant, user: User, role: str, request=None) -> Membership:
    """An existing user joins one more tenant."""
    membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    record_audit_event(tenant=tenant, action="member.created", target=membership, request=request,
                       details={"email": user.email, "role": role})
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership, request=None) -> None:
    """The user leaves this tenant; their account and other tenants' memberships stay."""
    record_audit_event(tenant=membership.tenant, action="member.removed", target=membership, request=request,
                       details={"email": membership.user.email, "role": membership.role})
    membership.delete()


@transaction.atomic
def credential_save(
    *,
    credential: ExchangeCredential,
    changed_fields: list[str],
    new_client_secret: str = "",
    new_broker_key: str = "",
    request=None,
) -> ExchangeCredential:
    """Create or update a tenant's exchange client; secrets are replaced only when a new one is given."""
    created = credential.pk is None
    changed = set(changed_fields)
    if new_client_secret:
        credential.client_secret = new_client_secret
        changed.add("client_secret")
    if new_broker_key:
        credential.broker_key = new_broker_key
        changed.add("broker_key")
    credential.save()
    record_audit_event(
        tenant=credential.tenant,
        action="credential.created" if created else "credential.updated",
        target=credential,
        request=request,
        details={"exchange": credential.exchange, "changed": sorted(changed)},
    )
    if "extra_hosts" in changed:
        # An exception to the exchange's known hosts (connectors/base/hosts.py), named in full for the record.
        record_audit_event(tenant=credential.tenant, action="credential.extra_hosts_allowed", target=credential,
                           request=request, details={"exchange": credential.exchange,
                                                     "extra_hosts": list(credential.extra_hosts)})
    return credential


@transaction.atomic
def credential_generate_rsa_key_pair(*, credential: ExchangeCredential, request=None) -> ExchangeCredential:
    """A fresh key pair whose public half goes on the exchange's application form."""
    credential.rsa_private_key, credential.rsa_public_key = crypto.generate_rsa_key_pair()
    credential.save(update_fields=["rsa_private_key", "rsa_public_key", "updated_at"])
    record_audit_event(tenant=credential.tenant, action="credential.rsa_key_generated", target=credential,
                       request=request, details={"exchange": credential.exchange})
    return credential


def credential_decrypt_issued_secret(*, credential: ExchangeCredential, encrypted_b64: str) -> str:
    """The client secret the exchange issued, base64 and RSA-encrypted to our public key."""
    if not credential.rsa_private_key:
        raise crypto.SecretDecryptionError("Generate a key pair and register its public key first.")
    return crypto.decrypt_rsa_secret(private_pem=credential.rsa_private_key, encrypted_b64=encrypted_b64)
