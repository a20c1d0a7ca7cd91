"""allauth's social-account policy for the portal: apps come from tenants' encrypted credentials,
and an exchange never signs anyone in or up."""

import secrets

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp

from connectors.base import credential as credential_settings
from connectors.base.hosts import hosts_for_calls
from connectors.exchanges import exchange_packages

from .models import ExchangeCredential


def app_from_credential(credential: ExchangeCredential) -> SocialApp:
    """An unsaved SocialApp: no SocialApp rows exist, and the secret stays in the encrypted credential."""
    # One of several servers of the exchange has an allauth provider id of its own, so that a flow's state
    # (stashed under it) ends only at the server it was started for.
    app = SocialApp(
        provider=credential.exchange,
        name=str(credential),
        client_id=credential.client_id,
        secret=credential.client_secret,
        provider_id=f"{credential.exchange}:{credential.server_slug}" if credential.server_slug else "",
    )
    package = exchange_packages().get(credential.exchange)
    settings = credential_settings.app_settings(package.module, credential.settings) if package else credential.settings
    app.settings = {
        "client_type": credential.client_type,
        "authorize_base_url": credential.authorize_base_url,
        "api_base_url": credential.api_base_url,
        "redirect_uris": list(credential.redirect_uris),
        "allowed_permissions": list(credential.allowed_permissions),
        "default_permissions": list(credential.default_permissions),
        **settings,
        # Last, so that the tenant-editable settings cannot point the flow at another credential or host.
        "credential_id": credential.pk,
        "server_slug": credential.server_slug,
        "call_hosts": hosts_for_calls(credential.exchange, credential.extra_hosts),
    }
    return app


class TenantSocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request, provider=None, client_id=None):
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            return []
        credentials = ExchangeCredential.objects.filter(tenant=tenant, is_enabled=True)
        if provider:
            credentials = credentials.filter(exchange=provider)
        if client_id:
            credentials = credentials.filter(client_id=client_id)
        # A credential whose settings are not an object (stored before the admin form refused that) cannot be
        # spread into an app: it alone is left out, so the tenant's other exchanges still connect.
        return [app_from_credential(credential) for credential in credentials if isinstance(credential.settings, dict)]

    def is_open_for_signup(self, request, sociallogin):
        return False

    def generate_state_param(self, state: dict) -> str:
        # allauth's default is 16 letters and digits, about 95 bits. RFC 6749 §10.10: a guess must succeed with
        # a probability of at most 2^-128 (should: 2^-160); 32 random bytes, URL-safe base64 (43 characters).
        return secrets.token_urlsafe(32)
