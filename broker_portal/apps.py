from django.apps import AppConfig


class BrokerPortalConfig(AppConfig):
    name = "broker_portal"
    verbose_name = "Broker portal"

    def ready(self):
        from . import checks, crypto, signals  # noqa: F401  (registers checks and receivers)
        from .accounts import install_totp_replay_guard

        install_totp_replay_guard()
