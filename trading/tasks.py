"""The attribution check and the look-up of unanswered orders as Celery tasks: they only call the services."""

from celery import shared_task

from . import services


@shared_task
def attribution_check_all() -> dict:
    """Read the recent orders of every connection that traded back from its exchange and flag any that lack the
    broker's attribution (scheduled hourly: CELERY_BEAT_SCHEDULE "trading-attribution-check")."""
    return services.attribution_check_all()


@shared_task
def orders_unknown_resolve_all() -> dict:
    """Find the orders whose placing got no answer at their exchange by client order id (scheduled every five
    minutes: CELERY_BEAT_SCHEDULE "trading-orders-unknown")."""
    return services.orders_unknown_resolve_all()
