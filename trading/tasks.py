"""The attribution check as a Celery task: it only calls the service."""

from celery import shared_task

from . import services


@shared_task
def attribution_check_all() -> dict:
    """Read the recent orders of every connection that traded back from its exchange and flag any that lack the
    broker's attribution (scheduled hourly: CELERY_BEAT_SCHEDULE "trading-attribution-check")."""
    return services.attribution_check_all()
