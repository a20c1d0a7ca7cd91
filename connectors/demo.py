"""The demo's exchange clients at the exchange sandbox, and the whole demo that ``seed_demo`` creates
(idempotently): the core's tenants and users (broker_portal/demo.py), then one client per exchange for each."""

import requests
from django.apps import apps
from django.conf import settings
from django.db import transaction

from broker_portal.demo import DEMO_TENANTS, portal_port, seed_tenant
from broker_portal.models import Tenant

from . import services
from .exchanges import exchange_packages, simulated_exchanges
from .models import ExchangeCredential


def demo_client_id(tenant_slug: str, exchange_id: str) -> str:
    return f"{tenant_slug}-{exchange_id}-client"


def demo_client_secret(tenant_slug: str, exchange_id: str) -> str:
    return f"{tenant_slug}-{exchange_id}-demo-secret"


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
            "start it with `python manage.py run_sandbox` under sandbox.standalone_settings (bin/demo does)."
        ) from error
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
                "settings": {
                    **({"partner": client_id} if package.demo.broker_attribution else {}),
                    **dict(package.demo.attribution_settings),
                },
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
    redirect_uris = [
        *credential.redirect_uris,
        *(
            uri.replace(f"/connect/{credential.exchange}/callback/", path)
            for path in package.demo.extra_return_paths
            for uri in credential.redirect_uris
        ),
    ]
    issued = sandbox_control(
        "clients",
        {
            "exchange": credential.exchange,
            "client_id": credential.client_id,
            "client_secret": secret,
            "client_type": credential.client_type,
            "redirect_uris": redirect_uris,
            "permissions": sandbox_permissions,
            "rsa_public_key": credential.rsa_public_key,
            # OKX binds Fast API keys to the broker's server IP allowlist (50118 without one).
            "ip_allowlist": list(credential.service_ip_list),
        },
    )
    if "encrypted_client_secret" in issued:
        secret = services.credential_decrypt_issued_secret(
            credential=credential, encrypted_b64=issued["encrypted_client_secret"]
        )
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
        tenant, described = seed_tenant(demo_tenant)
        credentials += seed_credentials(tenant, demo_tenant.hosts)
        result["tenants"].append(described)
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
            lines.append(
                f"  {exchange}: "
                + ", ".join(
                    f"{a['email']} / {a['password']}" + (f" (TOTP {a['totp_secret']})" if a["totp_secret"] else "")
                    for a in accounts
                )
            )
    return lines
