import os

from celery import Celery
from celery.signals import setup_logging

from broker_portal import request_id  # noqa: F401  (carries the request id into tasks: its signal receivers)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "broker_portal.settings.development")

app = Celery("broker_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def log_as_the_web_processes_do(**kwargs):
    """Workers and beat use Django's LOGGING (redacted, with request ids, JSON in production); without a receiver
    here Celery would replace the root logger's handlers with its own. Their level is LOG_LEVEL."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
