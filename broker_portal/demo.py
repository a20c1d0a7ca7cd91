"""The demo tenants and users that ``seed_demo`` creates (idempotently); their exchange clients are the
connectors' (connectors/demo.py)."""

import os
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP

from .models import Membership, Tenant, TenantHost, User

DEMO_PASSWORD = "demo-portal-pass-2026"


@dataclass(frozen=True)
class DemoUser:
    email: str
    role: str
    totp_secret: str | None  # staff must have MFA before they reach the admin or exports


@dataclass(frozen=True)
class DemoTenant:
    name: str
    slug: str
    hosts: tuple[str, ...]
    primary_color: str
    accent_color: str
    users: tuple[DemoUser, ...]


DEMO_TENANTS = (
    DemoTenant(
        name="Demo Broker",
        slug="demo",
        hosts=("localhost", "127.0.0.1"),
        primary_color="#1f4fd1",
        accent_color="#0f9d58",
        users=(
            DemoUser("user@demo.example", Membership.Role.MEMBER, None),
            DemoUser("admin@demo.example", Membership.Role.BROKER_ADMIN, "JBSWY3DPEHPK3PXPDEMOADMN"),
            DemoUser("accountant@demo.example", Membership.Role.ACCOUNTANT, "JBSWY3DPEHPK3PXPDEMOACCT"),
        ),
    ),
    DemoTenant(
        name="Acme Brokerage",
        slug="acme",
        hosts=("acme.localhost",),
        primary_color="#b0222f",
        accent_color="#e0a100",
        users=(
            DemoUser("user@acme.example", Membership.Role.MEMBER, None),
            DemoUser("admin@acme.example", Membership.Role.BROKER_ADMIN, "JBSWY3DPEHPK3PXPACMEADMN"),
            DemoUser("accountant@acme.example", Membership.Role.ACCOUNTANT, "JBSWY3DPEHPK3PXPACMEACCT"),
        ),
    ),
)


def portal_port() -> str:
    return os.environ.get("PORTAL_PORT", "8000")


def seed_user(tenant: Tenant, demo_user: DemoUser) -> dict:
    user, _ = User.objects.get_or_create(email=demo_user.email)
    user.set_password(DEMO_PASSWORD)
    user.is_active = True
    user.save()
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"primary": True, "verified": True})
    Membership.objects.update_or_create(tenant=tenant, user=user, defaults={"role": demo_user.role})
    if demo_user.totp_secret:
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        TOTP.activate(user, demo_user.totp_secret)
        RecoveryCodes.activate(user)
    entry = {"role": demo_user.role, "email": demo_user.email, "password": DEMO_PASSWORD}
    if demo_user.totp_secret:
        entry["totp_secret"] = demo_user.totp_secret
    return entry


def seed_tenant(demo_tenant: DemoTenant) -> tuple[Tenant, dict]:
    """One demo tenant with its hosts and users; returns it with what a terminal shows of it."""
    tenant, _ = Tenant.objects.update_or_create(
        slug=demo_tenant.slug,
        defaults={
            "name": demo_tenant.name,
            "primary_color": demo_tenant.primary_color,
            "accent_color": demo_tenant.accent_color,
            "support_email": f"support@{demo_tenant.slug}.example",
        },
    )
    for host in demo_tenant.hosts:
        TenantHost.objects.update_or_create(host=host, defaults={"tenant": tenant})
    return tenant, {
        "name": tenant.name,
        "slug": tenant.slug,
        "hosts": list(demo_tenant.hosts),
        "url": f"http://{demo_tenant.hosts[0]}:{portal_port()}/",
        "users": [seed_user(tenant, demo_user) for demo_user in demo_tenant.users],
    }
