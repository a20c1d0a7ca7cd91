"""Start-up checks of the webhook settings: a value that breaks the delivery promise is caught here."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def webhook_settings_check(app_configs=None, **kwargs) -> list:
    problems = []
    if settings.WEBHOOK_RETRY_HOURS < 24:
        problems.append(
            Warning(
                f"WEBHOOK_RETRY_HOURS is {settings.WEBHOOK_RETRY_HOURS:g}: failing deliveries are given up before a "
                "day of retries, less than brokers are promised.",
                id="webhooks.W001",
            )
        )
    if settings.WEBHOOK_TIMEOUT_SECONDS > settings.WEBHOOK_DRAIN_SECONDS + 60:
        problems.append(
            Warning(
                "WEBHOOK_TIMEOUT_SECONDS is far above WEBHOOK_DRAIN_SECONDS: one slow answer "
                "holds an endpoint's worker well past its turn.",
                id="webhooks.W002",
            )
        )
    if settings.WEBHOOK_RETRY_BASE_SECONDS > settings.WEBHOOK_RETRY_MAX_SECONDS:
        problems.append(Error("WEBHOOK_RETRY_BASE_SECONDS is above WEBHOOK_RETRY_MAX_SECONDS.", id="webhooks.E001"))
    return problems
