"""Tasks take ids, load, call a service; retries live here."""

from celery import shared_task

from connectors.base.http import ExchangeUnavailable
from connectors.models import ExchangeConnection

from . import services


@shared_task
def confirm_open_payouts():
    """Beat: each connection with a payout still to confirm reads its deposit history, one task each."""
    for connection_id in services.connections_with_open_payouts():
        confirm_connection_payouts.delay(connection_id)


@shared_task(bind=True, max_retries=5, acks_late=True, soft_time_limit=600, time_limit=660)
def confirm_connection_payouts(self, connection_id: int):
    connection = ExchangeConnection.objects.filter(pk=connection_id, status=ExchangeConnection.Status.ACTIVE).first()
    if connection is None:
        return None
    try:
        return services.payouts_confirm_connection(connection=connection)
    except ExchangeUnavailable as error:
        raise self.retry(exc=error, countdown=error.retry_after or min(600, 30 * 2**self.request.retries))
