"""Misconfiguration found at start, not at the first request that needs it."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def encryption_keys_configured(app_configs, **kwargs):
    if not settings.FERNET_KEYS:
        return [Error("FERNET_KEYS is empty: secrets cannot be encrypted at rest.",
                      hint="Set FERNET_KEYS to one or more comma-separated keys; the first encrypts.",
                      id="broker_portal.E001")]
    if settings.FERNET_KEYS[0] == settings.SECRET_KEY:
        return [Warning("The first FERNET_KEYS entry equals SECRET_KEY; rotating one would lose the other.",
                        id="broker_portal.W001")]
    return []


@register(deploy=True)
def sandbox_off_in_production(app_configs, **kwargs):
    if settings.EXCHANGE_SANDBOX:
        return [Warning("EXCHANGE_SANDBOX is on: the exchange simulator is mounted.",
                        hint="Unset EXCHANGE_SANDBOX in production.", id="broker_portal.W002")]
    return []
