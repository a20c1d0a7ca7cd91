from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Exchange connectors"

    def ready(self):
        from . import checks  # noqa: F401 (registers the exchange packages' start-up check)
