"""The demo tenants, users and exchange clients that ``seed_demo`` creates (idempotently)."""

import os
from dataclasses import dataclass

import requests

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.apps import apps
from django.conf import settings
from django.db import transaction

from connectors.exchanges import exchange_packages, simulated_exchanges

from . import services
from .models import ExchangeCredential, Membership, Tenant, TenantHost, User

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
        name="Demo Broker", slug="demo", hosts=("localhost", "127.0.0.1"),
        primary_color="#1f4fd1", accent_color="#0f9d58",
        users=(
            DemoUser("user@demo.example", Membership.Role.MEMBER, None),
            DemoUser("admin@demo.example", Membership.Role.BROKER_ADMIN, "JBSWY3DPEHPK3PXPDEMOADMN"),
            DemoUser("accountant@demo.example", Membership.Role.ACCOUNTANT, "JBSWY3DPEHPK3PXPDEMOACCT"),
        ),
    ),
    DemoTenant(
        name="Acme Brokerage", slug="acme", hosts=("acme.localhost",),
        primary_color="#b0222f", accent_color="#e0a100",
        users=(
            DemoUser("user@acme.example", Membership.Role.MEMBER, None),
            DemoUser("admin@acme.example", Membership.Role.BROKER_ADMIN, "JBSWY3DPEHPK3PXPACMEADMN"),
            DemoUser("accountant@acme.example", Membership.Role.ACCOUNTANT, "JBSWY3DPEHPK3PXPACMEACCT"),
        ),
    ),
)


def portal_port() -> str:
    return os.environ.get("PORTAL_PORT", "8000")


def demo_client_id(tenant_slug: str, exchange_id: str) -> str:
    return f"{tenant_slug}-{exchange_id}-client"


def demo_client_secret(tenant_slug: str, exchange_id: str) -> str:
    return f"{tenant_slug}-{exchange_id}-demo-secret"


def seed_user(tenant: Tenant, demo_user: DemoUser) -> dict:
    user, _ = User.objects.get_or_create(email=demo_user.email)
    user.set_password(DEMO_PASSWORD)
    user.is_active = True
    user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"primary": True, "verified": True}
    )
    Membership.objects.update_or_create(tenant=tenant, user=user, defaults={"role": demo_user.role})
    if demo_user.totp_secret:
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        TOTP.activate(user, demo_user.totp_secret)
        RecoveryCodes.activate(user)
    entry = {"role": demo_user.role, "email": demo_user.email, "password": DEMO_PASSWORD}
    if demo_user.totp_secret:
        entry["totp_secret"] = demo_user.totp_secret
    return entry


class SandboxUnavailable(Exception):
    """The exchange sandbox, run as its own service, did not answer its control surface."""


def sandbox_url(hosts: tuple[str, ...] = ("localhost",)) -> str:
    """Where the demo's credentials find the exchange sandbox: its own service (bin/demo), or mounted inside this
    portal on the tenant's first host (the tests)."""
    if settings.EXCHANGE_SANDBOX_URL and not apps.is_installed("sandbox"):
        return settings.EXCHANGE_SANDBOX_URL.rstrip("/")
    return f"http://{hosts[0]}:{portal_port()}/sandbox"


def sandbox_answers() -> bool:
    return apps.is_installed("sandbox") or bool(settings.EXCHANGE_SANDBOX_URL)


def sandbox_control(action: str, payload: dict) -> dict:
    """The sandbox's control surface (sandbox/views/control.py), standing in for an exchange's partner team: its
    services in this process where the sandbox is mounted here, its endpoints over HTTP where it runs apart."""
    if apps.is_installed("sandbox"):
        from sandbox import services as sandbox_services

        return {"clients": sandbox_services.client_register, "seed": sandbox_services.seed_accounts}[action](**payload)
    try:
        response = requests.post(f"{sandbox_url()}/control/{action}", json=payload, timeout=120)
        response.raise_for_status()
    except requests.RequestException as error:
        raise SandboxUnavailable(
            f"The exchange sandbox at {sandbox_url()}/ did not answer {action} ({type(error).__name__}); "
            "start it with `python manage.py run_sandbox` under sandbox.standalone_settings (bin/demo does).") from error
    return response.json()


def seed_credentials(tenant: Tenant, hosts: tuple[str, ...]) -> list[tuple[ExchangeCredential, str]]:
    """One sandbox client per exchange for the demo's exact callback URLs on every host; returns each with the
    secret to register it with."""
    base = sandbox_url(hosts)
    seeded = []
    for package in simulated_exchanges():
        exchange = package.exchange
        authorize_url, api_url = package.demo.base_urls(base, exchange.id)
        client_id = demo_client_id(tenant.slug, exchange.id)
        credential, _ = ExchangeCredential.objects.get_or_create(
            tenant=tenant,
            exchange=exchange.id,
            defaults={
                "client_id": client_id,
                "redirect_uris": [f"http://{host}:{portal_port()}/connect/{exchange.id}/callback/" for host in hosts],
                "allowed_permissions": list(exchange.permission_codes),
                "default_permissions": list(exchange.default_permissions),
                "service_ip_list": ["127.0.0.1"],
                "trading_ip_list": ["127.0.0.1"],
                "authorize_base_url": authorize_url,
                "api_base_url": api_url,
                # Attribution (KuCoin): partner id, broker name (issued at registration) and broker key.
                "settings": {**({"partner": client_id} if package.demo.broker_attribution else {}),
                             **dict(package.demo.attribution_settings)},
            },
        )
        # The demo's credentials follow the sandbox to where it runs now (it moved out of the portal's port), and
        # to KuCoin's www host for the login (modelled after the first demo data was seeded).
        if (credential.authorize_base_url, credential.api_base_url) != (authorize_url, api_url):
            credential.authorize_base_url, credential.api_base_url = authorize_url, api_url
            credential.save(update_fields=["authorize_base_url", "api_base_url", "updated_at"])
        seeded.append((credential, demo_client_secret(tenant.slug, exchange.id)))
    return seeded


def register_at_sandbox(credential: ExchangeCredential, secret: str) -> None:
    """What a broker does once per exchange: apply, receive the client secret, store it encrypted. Repeated on
    every seed (the sandbox's database may be new); the exchange updates the application it has.

    Kraken sends its secret RSA-encrypted to the public key on the application, so the demo does that dance."""
    package = exchange_packages()[credential.exchange]
    # The exchange's fixed scopes (OKX's fast_api) are asked for whatever the user picks.
    sandbox_permissions = [*credential.allowed_permissions, *package.provider_class.fixed_scopes]
    if "rsa_public_key" in package.exchange.application_form and not credential.rsa_public_key:
        services.credential_generate_rsa_key_pair(credential=credential)  # Kraken encrypts its secret to this key
    redirect_uris = [*credential.redirect_uris, *(
        uri.replace(f"/connect/{credential.exchange}/callback/", path)
        for path in package.demo.extra_return_paths for uri in credential.redirect_uris)]
    issued = sandbox_control("clients", {
        "exchange": credential.exchange, "client_id": credential.client_id, "client_secret": secret,
        "client_type": credential.client_type, "redirect_uris": redirect_uris, "permissions": sandbox_permissions,
        "rsa_public_key": credential.rsa_public_key,
        # OKX binds Fast API keys to the broker's server IP allowlist (50118 without one).
        "ip_allowlist": list(credential.service_ip_list),
    })
    if "encrypted_client_secret" in issued:
        secret = services.credential_decrypt_issued_secret(credential=credential,
                                                            encrypted_b64=issued["encrypted_client_secret"])
    credential.client_secret = secret
    credential.broker_key = secret if package.demo.broker_attribution else ""
    if "broker_name" in issued:
        credential.settings = {**credential.settings, "broker_name": issued["broker_name"]}
    credential.save(update_fields=["client_secret", "broker_key", "settings", "updated_at"])


def seed_sandbox_accounts() -> dict:
    return {
        exchange: [{key: account[key] for key in ("email", "password", "totp_secret")} for account in accounts]
        for exchange, accounts in sandbox_control("seed", {}).items()
    }


@transaction.atomic
def seed_portal() -> tuple[dict, list[tuple[ExchangeCredential, str]]]:
    result = {"tenants": []}
    credentials = []
    for demo_tenant in DEMO_TENANTS:
        tenant, _ = Tenant.objects.update_or_create(
            slug=demo_tenant.slug,
            defaults={"name": demo_tenant.name, "primary_color": demo_tenant.primary_color,
                      "accent_color": demo_tenant.accent_color,
                      "support_email": f"support@{demo_tenant.slug}.example"},
        )
        for host in demo_tenant.hosts:
            TenantHost.objects.update_or_create(host=host, defaults={"tenant": tenant})
        credentials += seed_credentials(tenant, demo_tenant.hosts)
        result["tenants"].append({
            "name": tenant.name,
            "slug": tenant.slug,
            "hosts": list(demo_tenant.hosts),
            "url": f"http://{demo_tenant.hosts[0]}:{portal_port()}/",
            "users": [seed_user(tenant, demo_user) for demo_user in demo_tenant.users],
        })
    return result, credentials


def seed_demo() -> dict:
    """The portal's demo rows in one transaction; then, outside it, the registrations and accounts at the sandbox,
    so no portal transaction is open while the sandbox is called."""
    result, credentials = seed_portal()
    result["sandbox_accounts"] = {}
    if sandbox_answers():
        for credential, secret in credentials:
            register_at_sandbox(credential, secret)
        result["sandbox_accounts"] = seed_sandbox_accounts()
    return result


def describe(result: dict) -> list[str]:
    """The demo's sign-ins as lines for a terminal."""
    lines = []
    for tenant in result["tenants"]:
        lines.append(f"{tenant['name']}: {tenant['url']}")
        for user in tenant["users"]:
            mfa = f"   TOTP secret {user['totp_secret']}" if "totp_secret" in user else ""
            lines.append(f"  {user['role']:<13} {user['email']} / {user['password']}{mfa}")
    if result.get("sandbox_accounts"):
        lines.append(f"Exchange sandbox: {sandbox_url()}/ (its inbox, {sandbox_url()}/inbox/, holds withdrawal codes)")
        for exchange, accounts in result["sandbox_accounts"].items():
            lines.append(f"  {exchange}: " + ", ".join(
                f"{a['email']} / {a['password']}" + (f" (TOTP {a['totp_secret']})" if a["totp_secret"] else "")
                for a in accounts
            ))
    return lines
