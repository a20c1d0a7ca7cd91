"""The health of connections whose lasting credential is their API key (OKX Fast API): checked by one signed read
each, since no token refresh would ever notice that the user deleted or revoked the key at the exchange.

A connection nobody views is still checked: beat runs the sweep, which enqueues one check per connection spread
over the interval, so the exchange sees a trickle. Outcomes are logged by id, never with a key."""

import itertools
import logging
import random

from django.conf import settings

from broker_portal.enqueue import enqueue_each

from .base.api import ApiKeyInvalid, ExchangeAPIError
from .base.http import ExchangeUnavailable, HostNotAllowed
from .clients import connection_api
from .models import ExchangeConnection
from .selectors import CredentialNotOffered
from .token_refresh import KeyPairRotated, api_key_credential_exchanges, connection_mark_api_key_invalid

logger = logging.getLogger(__name__)


class CheckOutcome:
    OK = "ok"
    INVALID = "invalid"  # the exchange no longer knows the key: marked for reconnection
    UNAVAILABLE = "unavailable"  # the exchange did not answer usefully: nothing concluded
    SKIPPED = "skipped"  # not an active connection with a key, or its credential is gone


def connections_check_api_keys() -> int:
    """Enqueue one key check per active connection of the exchanges whose credential is the API key."""
    spread = float(settings.API_KEY_CHECK_SPREAD_SECONDS)
    ids = (
        ExchangeConnection.objects.filter(
            status=ExchangeConnection.Status.ACTIVE,
            exchange__in=api_key_credential_exchanges(),
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    countdowns = (random.uniform(0, spread) for _ in itertools.count()) if spread else None
    return enqueue_each(
        "connectors.tasks.check_api_key",
        ([connection_id] for connection_id in ids.iterator()),
        countdown_each=countdowns,
    )


def connection_check_api_key(*, connection_id: int) -> str:
    """One signed read with the connection's key; the exchange's invalid-key answer marks it for reconnection."""
    connection = ExchangeConnection.objects.filter(pk=connection_id, status=ExchangeConnection.Status.ACTIVE).first()
    if connection is None or not connection.api_key:
        return CheckOutcome.SKIPPED
    try:
        api = connection_api(connection)
    except CredentialNotOffered:  # deleted since: nothing to check with
        api = None
    if api is None:
        return CheckOutcome.SKIPPED
    try:
        api.check_api_key(connection)
    except ApiKeyInvalid as error:
        try:
            connection_mark_api_key_invalid(
                connection_id=connection.pk, code=error.code, refused_api_key=connection.api_key
            )
        except KeyPairRotated:  # a refresh replaced the key after we read it: the refused key is history
            return CheckOutcome.SKIPPED
        return CheckOutcome.INVALID
    except (ExchangeUnavailable, HostNotAllowed, ExchangeAPIError) as error:
        logger.info("key check of connection %s inconclusive: %s", connection.pk, type(error).__name__)
        return CheckOutcome.UNAVAILABLE
    return CheckOutcome.OK
