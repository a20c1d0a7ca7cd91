"""Keeping a connection's tokens fresh: the single-flight refresh, its failure policy, and the sweep.

Locking. Refresh tokens rotate and a reused one revokes the whole family, so exactly one caller may spend a
refresh token, and what it gets must be stored before anyone spends the stored one again. A refresh claims the
connection first: one UPDATE … RETURNING (committed on its own) writes a fencing token (``refresh_claim``) and a
lease (``refresh_claimed_until``) where no lease is running, and answers the row as it is now. Then it calls the
exchange holding nothing of the database (with a connection pool, its connection goes back to the pool for the
call), and writes the new pair with a second UPDATE that only matches while the claim is still its own and nothing
else wrote the row since (``updated_at``), which ends the claim. The lease outlasts the calls it covers (the HTTP
timeout and a margin, renewed before a second call), so it only runs out under a refresh that stalled or died;
then another may claim. A fence that failed is settled under the row lock by what the row holds: if it is still
the refresh token we spent, nobody stored a successor and ours is stored; otherwise ours is discarded (and
audited), since whatever is stored was written after our call began. Failures are recorded the same way, only
while the claim is ours. Workers never wait for a claim (``wait=False``: whoever holds it is doing the work); API
calls do, looking again with a growing pause (and no database connection, with a pool), then read the fresh pair.
A crashed worker's claim lasts until its lease runs out.

A worker killed mid-batch. The sweep enqueues its refreshes without an ETA: a message with one is fetched at
once and held unacknowledged in the worker's memory until it is due, so a killed worker would take the whole
batch with it until the broker's visibility timeout. Without one, with late acks and a prefetch of one, a worker
holds only what it is running; the rest waits in the queue for any other worker. The refresh it was running is
recognised by the sweep: before its token call a worker leaves a mark in the cache (taken, when, and the claim it
found), under its refresh claim. A claimed connection that is marked, whose refresh lease is over and that still
holds the sweep's claim the worker found was abandoned; once that worker's token call
can no longer be in flight (the HTTP timeout), the sweep enqueues it again. A connection without a mark is still
in the queue, and the claim keeps it from being enqueued twice. (A task's own retry after a transient failure
does carry a countdown: a worker killed holding it delays that retry to its time plus the sweep's grace.)

Publishing. A message costs the sweep a round trip to the broker and Celery's work around it, which at a million
connections (16,667 due a minute) is most of a sweep. A batch of more than FAN_OUT_ABOVE leaves the sweep as one
message, whose worker publishes one refresh per connection; workers publish in parallel and beat's sweep stays
short. A worker killed on such a batch leaves its claims to run out (the sweep's claim and grace), and they are
taken again.

Nothing secret leaves this module: results carry outcomes and times, messages name the exchange and the
kind of failure, never a token.
"""

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from allauth.socialaccount.providers import registry
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from broker_portal.audit import record_audit_event
from broker_portal.enqueue import enqueue, enqueue_each, enqueue_on_commit
from broker_portal.event_metrics import EventHistogram
from broker_portal.prepared_sql import PreparedClaim, PreparedLookup, update_fields
from webhooks.events import connection_data
from webhooks.services import event_record

from .base.api import AccessTokenExpired, ApiKeyInvalid
from .base.http import ExchangeUnavailable, HostNotAllowed
from .base.oauth import post_token_request
from .exchanges import exchange_packages
from .models import ExchangeConnection, ExchangeCredential
from .socialaccount import app_from_credential

logger = logging.getLogger(__name__)
Status = ExchangeConnection.Status
T = TypeVar("T")


def refresh_window() -> timedelta:
    """How long before its access token expires a connection is refreshed."""
    return timedelta(seconds=settings.TOKEN_REFRESH_WINDOW_SECONDS)


# Backoff, lapse warning, the sweep's claim and grace: settings (TOKEN_REFRESH_*_SECONDS, settings/base.py).
SWEEP_BATCH_SIZE = 500


class Outcome:
    REFRESHED = "refreshed"  # this call rotated the pair
    FRESH = "fresh"  # nothing to do: not due yet, or a sibling already rotated the token the caller saw
    BUSY = "busy"  # a sibling holds the lock and is refreshing right now (only where the caller won't wait)
    RETRY = "retry"  # transient failure; retry_at says when
    NEEDS_REAUTHORIZATION = "needs_reauthorization"
    FAILED = "failed"  # refused for a reason a retry will not fix (e.g. the tenant's client credentials)
    SKIPPED = "skipped"  # not a connection that is refreshed (revoked, needs reauthorization, gone)

    USABLE = (REFRESHED, FRESH)
    # Outcomes of a call to the token endpoint (the others made none).
    ATTEMPTED = (REFRESHED, RETRY, NEEDS_REAUTHORIZATION, FAILED)


# Each call to an exchange's token endpoint: its outcome and how long it took (/metrics reads it). Up to the
# token call's timeout (SOCIALACCOUNT_REQUESTS_TIMEOUT).
REFRESH_ATTEMPTS = EventHistogram(
    "token_refresh", label_names=("exchange", "outcome"), buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30)
)


@dataclass(frozen=True)
class RefreshResult:
    outcome: str
    retry_at: datetime | None = None


class RefreshFailed(Exception):
    """An on-demand refresh did not give a usable token; the message is safe to show."""


def is_invalid_grant(error: OAuth2Error) -> bool:
    # post_token_request words a refusal as "<RFC 6749 error>: <description>" (or "<code>: <message>").
    return str(error).split(":", 1)[0].strip() == "invalid_grant"


def credential_is_api_key(exchange_id: str) -> bool:
    """Whether the exchange's connections live by their API key, not by a token (ExchangeAPI.credential_is_api_key):
    such a connection is never refreshed, and its token's expiry says nothing about its health."""
    package = exchange_packages().get(exchange_id)
    return bool(package and getattr(package.provider_class.api_class, "credential_is_api_key", False))


def api_key_credential_exchanges() -> list[str]:
    return [exchange_id for exchange_id in exchange_packages() if credential_is_api_key(exchange_id)]


def provider_for(credential: ExchangeCredential):
    return registry.get_class(credential.exchange)(None, app=app_from_credential(credential))


# A worker refreshes many connections of few credentials. The locking query also reads the credential's
# updated_at, and the provider built from it is reused while that is unchanged (and for at most a few
# minutes), so a refresh costs no query for the credential and a changed one is seen at once.
CREDENTIAL_CACHE_SECONDS = 300
_providers: dict[tuple[int, str, str], tuple[datetime, float, object]] = {}


def credential_version():
    return Subquery(
        ExchangeCredential.objects.filter(
            tenant_id=OuterRef("tenant_id"), exchange=OuterRef("exchange"), server_slug=OuterRef("server_slug")
        ).values("updated_at")[:1]
    )


# The claim: one UPDATE … RETURNING of an active connection that no refresh holds, answering its row with its
# credential's version, compiled once per process (prepared_sql). The API key's secrets are not read (a refresh
# never needs them; Peatio's only overwrites them): nothing to decrypt.
UNREAD_BY_REFRESH = ("api_key", "api_secret", "api_passphrase")
CLAIMING = PreparedClaim(
    ExchangeConnection.objects.filter(status=Status.ACTIVE)
    .defer(*UNREAD_BY_REFRESH)
    .annotate(credential_version=credential_version()),
    claim_field="refresh_claim",
    until_field="refresh_claimed_until",
)
# The row locked, for the rare writes that decide on what it holds at that moment (a failure, a lost fence).
# FOR NO KEY UPDATE does not hold up rows that merely reference the connection (a withdrawal, an export).
LOCKED = PreparedLookup(
    ExchangeConnection.objects.select_for_update(no_key=True)
    .defer(*UNREAD_BY_REFRESH)
    .annotate(credential_version=credential_version())
)
# A lease covers an exchange call, bounded by the HTTP timeout, plus this for the database on either side (a
# pool's wait for a free connection included). Peatio's second call (its key pair) renews it first.
LEASE_MARGIN_SECONDS = 10
# A caller that waits for a sibling's refresh looks again after this, doubling up to the longest pause.
WAIT_FIRST_PAUSE_SECONDS, WAIT_LONGEST_PAUSE_SECONDS = 0.02, 0.5


def cached_provider(*, tenant_id: int, exchange: str, version, server_slug: str = "") -> object | None:
    """``version``: the credential's updated_at as the locking query read it (compared, never interpreted)."""
    if version is None:
        return None
    key = (tenant_id, exchange, server_slug)
    hit = _providers.get(key)
    if hit and hit[0] == version and time.monotonic() - hit[1] < CREDENTIAL_CACHE_SECONDS:
        return hit[2]
    from .selectors import CredentialNotOffered, credential_for  # the selectors import this module

    try:
        credential = credential_for(tenant_id, exchange, server_slug, enabled_only=False)
    except CredentialNotOffered:
        return None
    provider = provider_for(credential)
    # Keyed by the version read under the lock: if the credential changed since, the next refresh reloads it.
    _providers[key] = (version, time.monotonic(), provider)
    return provider


def refresh_retry_delay(*, failures: int, retry_after: float | None, refresh_left: timedelta | None) -> timedelta:
    """Exponential backoff with jitter, honouring Retry-After, bounded by the refresh token's expiry."""
    base = float(settings.TOKEN_REFRESH_BACKOFF_BASE_SECONDS)
    ceiling = min(float(settings.TOKEN_REFRESH_BACKOFF_MAX_SECONDS), base * 2 ** max(failures - 1, 0))
    delay = max(random.uniform(ceiling / 2, ceiling), retry_after or 0)
    if refresh_left is not None:
        # Denser attempts as the lapse nears, so there is always one more before it.
        delay = min(delay, max(refresh_left.total_seconds() / 2, 0))
    return timedelta(seconds=delay)


def refresh_lease() -> timedelta:
    """How long a claim keeps other refreshers off the connection (see LEASE_MARGIN_SECONDS)."""
    return timedelta(seconds=token_call_seconds() + LEASE_MARGIN_SECONDS)


def release_database_connection() -> None:
    """With a connection pool, give the database connection back for the length of an exchange call; the next
    query takes one again. Inside a transaction (a caller's atomic block) it stays, as it must."""
    if getattr(db_connection, "pool", None) is not None and not db_connection.in_atomic_block:
        db_connection.close()


def connection_refresh(
    *, connection_id: int, force: bool = False, stale_access_token: str | None = None, wait: bool = True
) -> RefreshResult:
    """Rotate the connection's token pair if it is due, single-flight across all processes.

    ``stale_access_token``: the token an API call was refused with; if the stored one differs, a sibling has
    already refreshed and the caller only needs to re-read. ``force``: refresh even if not due (admin).
    ``wait=False``: return BUSY instead of waiting for a sibling's refresh (workers)."""
    claim = uuid.uuid4().hex
    connection = _claim(connection_id, claim, wait=wait)
    if isinstance(connection, RefreshResult):
        return connection
    try:
        return _refresh_claimed(connection, claim, force=force, stale_access_token=stale_access_token)
    except BaseException:
        # Whatever went wrong (a failed write, a time limit), the next refresh must not wait out the lease.
        try:
            _release(connection.pk, claim)
        except DatabaseError:
            logger.warning("the claim on connection %s could not be released; its lease runs out", connection.pk)
        raise


def _claim(connection_id: int, claim: str, *, wait: bool) -> ExchangeConnection | RefreshResult:
    """The connection's row as the claim left it, or why there is none: SKIPPED (gone, not active) or, where the
    caller does not wait, BUSY (a sibling's lease is running). A waiting caller looks again until the sibling
    is done or its lease ran out, without a database connection in between where there is a pool."""
    pause = WAIT_FIRST_PAUSE_SECONDS
    while True:
        now = timezone.now()
        connection = CLAIMING.get(connection_id, token=claim, until=now + refresh_lease(), now=now)
        if connection is not None:
            return connection
        held = list(
            ExchangeConnection.objects.filter(pk=connection_id, status=Status.ACTIVE).values_list(
                "refresh_claimed_until", flat=True
            )[:1]
        )
        if not held:
            return RefreshResult(Outcome.SKIPPED)
        if held[0] is None or held[0] < now:
            continue  # released (or run out) since the claim: claim again
        if not wait:
            return RefreshResult(Outcome.BUSY)
        release_database_connection()
        time.sleep(pause)
        pause = min(pause * 2, WAIT_LONGEST_PAUSE_SECONDS)


def _release(connection_id: int, claim: str) -> None:
    ExchangeConnection.objects.filter(pk=connection_id, refresh_claim=claim).update(
        refresh_claim="", refresh_claimed_until=None
    )


def _refresh_claimed(
    connection: ExchangeConnection, claim: str, *, force: bool, stale_access_token: str | None
) -> RefreshResult:
    # Everything below reads the row as the claim returned it: a sibling that refreshed while we waited is seen
    # here, and nobody else can spend the refresh token until we write or release.
    now = timezone.now()
    if credential_is_api_key(connection.exchange):
        return _released(connection, claim, RefreshResult(Outcome.SKIPPED))
    if stale_access_token is not None:
        if connection.access_token != stale_access_token:
            return _released(connection, claim, RefreshResult(Outcome.FRESH))
        if (
            connection.refresh_failures
            and connection.next_refresh_attempt_at
            and connection.next_refresh_attempt_at > now
            and not force
        ):
            # The exchange is failing and a retry is scheduled: page views must not add to the storm.
            return _released(
                connection, claim, RefreshResult(Outcome.RETRY, retry_at=connection.next_refresh_attempt_at)
            )
    elif not force and connection.access_expires_at and connection.access_expires_at > now + refresh_window():
        return _released(connection, claim, RefreshResult(Outcome.FRESH))
    if not connection.refresh_token:
        return connection_mark_needs_reauthorization(connection=connection, reason="no refresh token")
    if connection.refresh_expires_at and connection.refresh_expires_at <= now:
        return connection_mark_needs_reauthorization(connection=connection, reason="refresh token expired")
    started = time.monotonic()
    result = _refresh_with_claim(connection, claim, now)
    REFRESH_ATTEMPTS.record(seconds=time.monotonic() - started, exchange=connection.exchange, outcome=result.outcome)
    return result


def _released(connection: ExchangeConnection, claim: str, result: RefreshResult) -> RefreshResult:
    _release(connection.pk, claim)
    return result


# What a write clears with the claim it ends.
UNCLAIMED = {"refresh_claim": "", "refresh_claimed_until": None}


def _refresh_with_claim(connection: ExchangeConnection, claim: str, now: datetime) -> RefreshResult:
    provider = cached_provider(
        tenant_id=connection.tenant_id,
        exchange=connection.exchange,
        server_slug=connection.server_slug,
        version=connection.credential_version,
    )
    if provider is None:
        return _if_still_claimed(
            connection.pk, claim, lambda row: _fail(row, "The broker no longer offers this exchange.")
        )
    adapter = provider.get_oauth2_adapter(None)
    mark_refresh_taken(connection, now)
    spent, seen = connection.refresh_token, connection.updated_at
    release_database_connection()  # nothing of the database is held during the exchange's call
    try:
        token = post_token_request(
            # The connection's own host where the exchange named one (OKX's regional domain, read with the row).
            adapter,
            provider.app,
            adapter.connection_url(adapter.refresh_token_url, connection.details),
            adapter.refresh_request_data(spent, list(connection.permissions)),
            headers=provider.token_headers(connection.details),
        )
    except ExchangeUnavailable as error:
        return _if_still_claimed(
            connection.pk, claim, lambda row, error=error: _schedule_retry(row, provider.name, error, now)
        )
    except HostNotAllowed:
        return _if_still_claimed(
            connection.pk,
            claim,
            lambda row: _fail(row, f"{provider.name}'s address in the broker's settings is not allowed."),
        )
    except OAuth2Error as error:
        if is_invalid_grant(error):
            return _after_invalid_grant(connection.pk, claim, spent)
        return _if_still_claimed(
            connection.pk,
            claim,
            lambda row, error=error: _fail(row, f"{provider.name} refused to renew access ({error})."),
        )

    connection.access_token = token.access_token
    if token.refresh_token:
        connection.refresh_token = token.refresh_token
        connection.refresh_expires_at = token.refresh_expires_at
    connection.access_expires_at = token.access_expires_at
    fields = ["access_token", "refresh_token", "access_expires_at", "refresh_expires_at"]
    if provider.api_class.token_is_api_key:
        # Peatio: the user token is the APIv2 key pair, so the key rotates with it. A second call: a lease more.
        ExchangeConnection.objects.filter(pk=connection.pk, refresh_claim=claim).update(
            refresh_claimed_until=timezone.now() + refresh_lease()
        )
        release_database_connection()
        key = provider.api_class(provider.app.settings).create_api_key(token.access_token, connection.permissions, {})
        connection.api_key, connection.api_secret, connection.api_key_id = key.key, key.secret, key.key_id
        fields += ["api_key", "api_secret", "api_key_id"]
    connection.last_refreshed_at = now
    connection.refresh_failures = 0
    connection.next_refresh_attempt_at = None
    connection.refresh_lapse_warned_at = None
    connection.last_error = ""
    _unclaim(connection)
    fields += [
        "last_refreshed_at",
        "refresh_failures",
        "next_refresh_attempt_at",
        "refresh_lapse_warned_at",
        "last_error",
        *UNCLAIMED,
        "updated_at",
    ]
    # The fence: written only if the claim is still ours and nothing else wrote the row since it was claimed.
    if update_fields(connection, fields, only_if={"refresh_claim": claim, "updated_at": seen}):
        return RefreshResult(Outcome.REFRESHED)
    return _store_unfenced(connection, claim, spent, fields)


def _store_unfenced(connection: ExchangeConnection, claim: str, spent: str, fields: list[str]) -> RefreshResult:
    """The fence failed: our lease ran out and another refresh claimed the row, or something else wrote it
    (a key rotation, a reconnection, a disconnection). The exchange has rotated the pair all the same, so what
    decides is the refresh token the row holds now. Still the one we spent: nobody stored a successor, and ours
    is the live one; it is stored (a sibling that sent the same token learns so from its invalid_grant). Another
    one: someone stored a pair after ours was asked for (a reconnection, or a sibling that re-sent the same token,
    which a rotating exchange answers by revoking the family): ours is discarded, and so is it if the row is no
    longer active. Either way no row is left holding a pair the exchange no longer honours because of us."""
    with transaction.atomic():
        row = LOCKED.get(connection.pk)
        if row is None or row.status != Status.ACTIVE or row.refresh_token != spent:
            if row is not None and row.refresh_claim == claim:
                _release(row.pk, claim)
            if row is not None:
                record_audit_event(
                    tenant=row.tenant,
                    action="connection.refresh_discarded",
                    target=row,
                    details={"exchange": row.exchange, "status": row.status},
                )
            logger.warning("connection %s changed during its refresh; the pair it got was discarded", connection.pk)
            return RefreshResult(Outcome.FRESH if row is not None and row.status == Status.ACTIVE else Outcome.SKIPPED)
        if row.refresh_claim != claim:  # another refresh holds it now: its claim stays for it to end
            fields = [name for name in fields if name not in UNCLAIMED]
        update_fields(connection, fields)
        return RefreshResult(Outcome.REFRESHED)


def _if_still_claimed(
    connection_id: int, claim: str, write: Callable[[ExchangeConnection], RefreshResult]
) -> RefreshResult:
    """Record a failed attempt on the row as it is now, unless another refresh took the claim over (its lease
    ran out): then that one's outcome is the connection's, and ours is dropped."""
    with transaction.atomic():
        row = LOCKED.get(connection_id)
        if row is None or row.status != Status.ACTIVE:
            return RefreshResult(Outcome.SKIPPED)
        if row.refresh_claim != claim:
            return RefreshResult(Outcome.BUSY)
        return write(row)


def _after_invalid_grant(connection_id: int, claim: str, spent: str) -> RefreshResult:
    with transaction.atomic():
        row = LOCKED.get(connection_id)
        if row is None or row.status != Status.ACTIVE:
            return RefreshResult(Outcome.SKIPPED)
        if row.refresh_token != spent:
            # A sibling whose lease overlapped ours stored a successor of the token we sent: the grant lives on.
            _release(connection_id, claim)
            return RefreshResult(Outcome.FRESH)
        # The row still holds the token we sent: the grant itself is dead (expired, revoked, or spent by a
        # response we lost).
        return connection_mark_needs_reauthorization(connection=row, reason="invalid_grant")


def _schedule_retry(
    connection: ExchangeConnection, exchange_name: str, error: ExchangeUnavailable, now: datetime
) -> RefreshResult:
    refresh_left = connection.refresh_expires_at - now if connection.refresh_expires_at else None
    connection.refresh_failures += 1
    retry_at = now + refresh_retry_delay(
        failures=connection.refresh_failures, retry_after=error.retry_after, refresh_left=refresh_left
    )
    connection.next_refresh_attempt_at = retry_at
    connection.last_error = (
        f"{exchange_name} could not renew access just now ({error}); trying again at {retry_at:%H:%M} UTC."
    )[:500]
    _unclaim(connection)
    connection.save(
        update_fields=["refresh_failures", "next_refresh_attempt_at", "last_error", *UNCLAIMED, "updated_at"]
    )
    if connection.refresh_failures == 1:  # one event per streak, not one per attempt
        record_audit_event(
            tenant=connection.tenant,
            action="connection.refresh_failing",
            target=connection,
            details={"exchange": connection.exchange, "error": str(error)},
        )
    logger.info(
        "refresh of connection %s failed (%s); attempt %s, next at %s",
        connection.pk,
        error,
        connection.refresh_failures,
        retry_at.isoformat(),
    )
    if refresh_left is not None and refresh_left <= timedelta(seconds=settings.TOKEN_REFRESH_LAPSE_WARNING_SECONDS):
        _warn_lapse(connection, now)
    return RefreshResult(Outcome.RETRY, retry_at=retry_at)


def _unclaim(connection: ExchangeConnection) -> None:
    for name, value in UNCLAIMED.items():
        setattr(connection, name, value)


def _fail(connection: ExchangeConnection, message: str) -> RefreshResult:
    """A refusal no retry will fix: the connection stops being swept until someone looks at it."""
    connection.status = Status.ERROR
    connection.last_error = message[:500]
    connection.next_refresh_attempt_at = None
    _unclaim(connection)
    connection.save(update_fields=["status", "last_error", "next_refresh_attempt_at", *UNCLAIMED, "updated_at"])
    record_audit_event(
        tenant=connection.tenant,
        action="connection.refresh_failed",
        target=connection,
        details={"exchange": connection.exchange, "error": connection.last_error},
    )
    logger.warning("refresh of connection %s refused: %s", connection.pk, message)
    return RefreshResult(Outcome.FAILED)


def connection_mark_needs_reauthorization(*, connection: ExchangeConnection, reason: str) -> RefreshResult:
    """The refresh grant is gone: the user must connect again. Call with the row locked or claimed; a refresh
    under way finds its fence gone and discards what it gets."""
    connection.status = Status.NEEDS_REAUTHORIZATION
    connection.last_error = f"{connection.get_exchange_display()} needs you to connect again to keep access."
    connection.next_refresh_attempt_at = None
    _unclaim(connection)
    connection.save(update_fields=["status", "last_error", "next_refresh_attempt_at", *UNCLAIMED, "updated_at"])
    record_audit_event(
        tenant=connection.tenant,
        action="connection.needs_reauthorization",
        target=connection,
        details={"exchange": connection.exchange, "reason": reason},
    )
    event_record(
        tenant=connection.tenant_id,
        type="connection.needs_reauthorization",
        payload=connection_data(connection, reason=reason),
    )
    logger.warning("connection %s needs reauthorization (%s)", connection.pk, reason)
    _notify(connection.pk, "needs_reauthorization")
    return RefreshResult(Outcome.NEEDS_REAUTHORIZATION)


def _warn_lapse(connection: ExchangeConnection, now: datetime) -> None:
    if connection.refresh_lapse_warned_at is not None:
        return
    connection.refresh_lapse_warned_at = now
    connection.save(update_fields=["refresh_lapse_warned_at", "updated_at"])
    record_audit_event(
        tenant=connection.tenant,
        action="connection.refresh_lapsing",
        target=connection,
        details={"exchange": connection.exchange, "refresh_expires_at": connection.refresh_expires_at.isoformat()},
    )
    event_record(
        tenant=connection.tenant_id,
        type="connection.refresh_lapse_warning",
        payload=connection_data(connection, refresh_expires_at=connection.refresh_expires_at),
    )
    _notify(connection.pk, "refresh_lapsing")


def connection_warn_refresh_lapse(*, connection_id: int) -> bool:
    """Flag a connection whose refresh token runs out soon without a successful refresh; tell its user once."""
    now = timezone.now()
    with transaction.atomic():
        connection = (
            ExchangeConnection.objects.select_for_update(skip_locked=True)
            .filter(pk=connection_id, status=Status.ACTIVE, refresh_lapse_warned_at__isnull=True)
            .first()
        )
        if connection is None or connection.refresh_expires_at is None or credential_is_api_key(connection.exchange):
            return False
        _warn_lapse(connection, now)
        return True


def _notify(connection_id: int, notice: str) -> None:
    enqueue_on_commit("connectors.tasks.send_connection_notice", connection_id, notice)


class KeyPairRotated(Exception):
    """A call was refused with a key pair that a sibling's refresh has since replaced in the row."""


def connection_mark_api_key_invalid(*, connection_id: int, code: str, refused_api_key: str | None = None) -> bool:
    """A signed call met the exchange's answer that the connection's API key is no longer valid: the user must
    connect again (the same e-mail, banner and audit as a dead refresh grant). False where it was not active.
    ``refused_api_key``: the key the call signed with; if the row (read under its lock) holds another one, a
    sibling's refresh replaced it meanwhile (Peatio rotates the pair with the token) and KeyPairRotated is raised
    instead: the key the row holds was never refused."""
    with transaction.atomic():
        connection = (
            ExchangeConnection.objects.select_for_update(no_key=True)
            .filter(pk=connection_id, status=Status.ACTIVE)
            .first()
        )
        if connection is None:
            return False
        if refused_api_key is not None and connection.api_key != refused_api_key:
            raise KeyPairRotated()
        connection_mark_needs_reauthorization(connection=connection, reason=f"api key refused ({code})")
        return True


def call_with_fresh_token(*, connection: ExchangeConnection, call: Callable[[ExchangeConnection], T]) -> T:
    """Run an exchange call; if the exchange says the access token expired (401, Peatio's 2010), run the
    single-flight refresh and retry once. A call that raced a sibling's refresh only re-reads the row, also where
    the exchange refused the key pair the sibling replaced (Peatio's 2008): then it retries once with the fresh
    pair. If it says the API key is no longer valid, the connection is marked for reconnection."""
    try:
        return _call_marking_invalid_key(connection, call)
    except AccessTokenExpired:
        result = connection_refresh(connection_id=connection.pk, stale_access_token=connection.access_token)
        connection.refresh_from_db()
        if result.outcome not in Outcome.USABLE:
            raise RefreshFailed(connection.last_error or "Access to the exchange could not be renewed.")
    except KeyPairRotated:
        connection.refresh_from_db()
    try:
        return _call_marking_invalid_key(connection, call)
    except KeyPairRotated:  # rotated again during the retry: the caller may try again later
        raise RefreshFailed(f"{connection.get_exchange_display()} is renewing access right now; try again.")


def _call_marking_invalid_key(connection: ExchangeConnection, call: Callable[[ExchangeConnection], T]) -> T:
    try:
        return call(connection)
    except ApiKeyInvalid as error:
        connection_mark_api_key_invalid(
            connection_id=connection.pk, code=error.code, refused_api_key=connection.api_key
        )
        raise RefreshFailed(
            f"{connection.get_exchange_display()} no longer accepts the API key: connect again to make a new one."
        )


def refresh_taken_key(connection_id: int) -> str:
    return f"portal:refresh-taken:{connection_id}"


def mark_refresh_taken(connection: ExchangeConnection, now: datetime) -> None:
    """Say that a refresh of this connection is under way, with the claim it found (see the module's docstring).
    Left to expire: a later claim or a committed refresh no longer matches it."""
    claim = connection.next_refresh_attempt_at
    # Past the claim and its grace the sweep takes the connection again anyway: the mark is no longer needed.
    kept = timedelta(seconds=settings.TOKEN_REFRESH_SWEEP_CLAIM_SECONDS + settings.TOKEN_REFRESH_SWEEP_GRACE_SECONDS)
    cache.set(
        refresh_taken_key(connection.pk),
        {"claim": claim.isoformat() if claim else None, "at": now.timestamp()},
        timeout=int(kept.total_seconds()),
    )


def token_call_seconds() -> float:
    """The longest a token call can take before the portal gives up on it (connect plus read timeout)."""
    timeout = settings.EXCHANGE_HTTP_TIMEOUT
    return float(sum(timeout)) if isinstance(timeout, (list, tuple)) else float(timeout)


def abandoned_refreshes(*, now: datetime, claimed, batch_size: int) -> list[tuple[int, datetime]]:
    """Claimed connections whose worker died mid-refresh, with the claim it left: marked as taken with the claim
    they still hold, and taken longer ago than a token call can last. The caller re-checks each under its lock.

    Re-sending a refresh token while the dead worker's call may still reach the exchange would present it twice,
    which a rotating exchange treats as reuse (the whole family revoked, the pair we then store with it)."""
    in_flight = token_call_seconds()
    claim = timedelta(seconds=settings.TOKEN_REFRESH_SWEEP_CLAIM_SECONDS)
    # A sweep's claim is its time plus the claim's length: only claims older than a token call can be abandoned.
    candidates = list(
        claimed.filter(next_refresh_attempt_at__lte=now + claim - timedelta(seconds=in_flight))
        .order_by("next_refresh_attempt_at", "id")
        .values_list("id", "next_refresh_attempt_at")[:batch_size]
    )
    marks = cache.get_many([refresh_taken_key(pk) for pk, _ in candidates]) if candidates else {}
    taken_before = now.timestamp() - in_flight
    return [
        (pk, claimed_until)
        for pk, claimed_until in candidates
        if (mark := marks.get(refresh_taken_key(pk)))
        and mark.get("claim") == claimed_until.isoformat()
        and mark.get("at", now.timestamp()) <= taken_before
    ]


def connections_requeue_abandoned(*, now: datetime, claimed, claim_until: datetime, batch_size: int) -> int:
    """Claim again and enqueue the connections whose refresh a dead worker left (abandoned_refreshes)."""
    abandoned = dict(abandoned_refreshes(now=now, claimed=claimed, batch_size=batch_size))
    if not abandoned:
        return 0
    with transaction.atomic():
        # Locked means a worker is writing it now, a running lease that one may still be refreshing it (the
        # requeued refresh could not claim it before the lease runs out); a changed claim means one finished
        # since it was read.
        ids = [
            pk
            for pk, claimed_until in ExchangeConnection.objects.select_for_update(skip_locked=True)
            .filter(Q(refresh_claimed_until__isnull=True) | Q(refresh_claimed_until__lt=now), id__in=list(abandoned))
            .values_list("id", "next_refresh_attempt_at")
            if claimed_until == abandoned[pk]
        ]
        if not ids:
            return 0
        ExchangeConnection.objects.filter(id__in=ids).update(next_refresh_attempt_at=claim_until)
        for connection in (
            ExchangeConnection.objects.without_secrets().select_related("tenant", "user").filter(id__in=ids)
        ):
            record_audit_event(
                tenant=connection.tenant,
                action="connection.refresh_interrupted",
                target=connection,
                details={"exchange": connection.exchange},
            )
            logger.warning("refresh of connection %s was cut off with its worker; enqueued again", connection.pk)
        transaction.on_commit(lambda: enqueue_refreshes(ids))
    return len(ids)


def sweep_claim_reads(*, now: datetime, grace: timedelta | None = None, exclude_exchanges: list[str] | None = None):
    """The sweep's reads of due connections to claim (ids, locked, skipping locked ones), in the order it takes
    them, each in the order of its partial index: those whose claim or backoff is over, by when it ended
    (connection_due_claimed: few), then the unclaimed ones by expiry (connection_due_unclaimed, which holds no
    row in backoff at all, so a million connections backing off cost this read nothing)."""
    grace = timedelta(seconds=settings.TOKEN_REFRESH_SWEEP_GRACE_SECONDS) if grace is None else grace
    exclude = api_key_credential_exchanges() if exclude_exchanges is None else exclude_exchanges
    due_soon = ExchangeConnection.objects.filter(status=Status.ACTIVE, access_expires_at__lte=now + refresh_window())
    return [
        due.exclude(exchange__in=exclude)
        .select_for_update(skip_locked=True)
        .order_by(*order)
        .values_list("id", flat=True)
        for due, order in (
            (due_soon.filter(next_refresh_attempt_at__lte=now - grace), ("next_refresh_attempt_at", "id")),
            (due_soon.filter(next_refresh_attempt_at__isnull=True), ("access_expires_at", "id")),
        )
    ]


def _claim_for_sweep(due, claim_until: datetime) -> list[int]:
    """Claim a batch of the sweep's read in one statement (UPDATE … WHERE id IN (its SELECT … FOR UPDATE SKIP
    LOCKED) RETURNING id): one round trip, committed on its own, instead of a transaction of four. Rows locked right
    now are being written; skipping them keeps the sweep from waiting."""
    if db_connection.vendor != "postgresql":
        with transaction.atomic():
            ids = list(due)
            ExchangeConnection.objects.filter(id__in=ids).update(next_refresh_attempt_at=claim_until)
        return ids
    query = due.query.clone()
    query.select_for_update = False  # written out below: Django compiles a locking read only in a transaction
    select, params = query.sql_with_params()
    field = ExchangeConnection._meta.get_field("next_refresh_attempt_at")
    quote = db_connection.ops.quote_name
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(ExchangeConnection._meta.db_table)} SET {quote(field.column)} = %s "
            f"WHERE {quote('id')} IN ({select} FOR UPDATE SKIP LOCKED) RETURNING {quote('id')}",
            [field.get_db_prep_save(claim_until, connection=db_connection), *params],
        )
        return [row[0] for row in cursor.fetchall()]


def connections_sweep(*, now: datetime | None = None, batch_size: int | None = None) -> dict:
    """Claim the connections whose access token expires within the window and enqueue one refresh each;
    flag those whose refresh token is about to lapse. Reads go through partial indexes of the active
    connections (connection_due_unclaimed, connection_due_claimed), so the cost follows the number of connections
    that are due, not the number of connections, nor the number backing off."""
    now = now or timezone.now()
    batch_size = batch_size or SWEEP_BATCH_SIZE
    claim_until = now + timedelta(seconds=settings.TOKEN_REFRESH_SWEEP_CLAIM_SECONDS)
    grace = timedelta(seconds=settings.TOKEN_REFRESH_SWEEP_GRACE_SECONDS)
    # Connections that live by their API key have no token to refresh, nor one to lapse.
    by_api_key = api_key_credential_exchanges()
    # Claimed (or backing off) and due: the claims a dead worker left behind are taken back at once.
    claimed = ExchangeConnection.objects.filter(
        status=Status.ACTIVE,
        access_expires_at__lte=now + refresh_window(),
        next_refresh_attempt_at__gt=now - grace,
    ).exclude(exchange__in=by_api_key)
    enqueued = connections_requeue_abandoned(now=now, claimed=claimed, claim_until=claim_until, batch_size=batch_size)
    for due in sweep_claim_reads(now=now, grace=grace, exclude_exchanges=by_api_key):
        while True:
            ids = _claim_for_sweep(due[:batch_size], claim_until)
            if ids:
                transaction.on_commit(lambda ids=ids: enqueue_refreshes(ids))
            enqueued += len(ids)
            if len(ids) < batch_size:
                break
    lapsing = (
        ExchangeConnection.objects.filter(
            status=Status.ACTIVE,
            refresh_expires_at__lte=now + timedelta(seconds=settings.TOKEN_REFRESH_LAPSE_WARNING_SECONDS),
            refresh_lapse_warned_at__isnull=True,
        )
        .exclude(exchange__in=by_api_key)
        .values_list("id", flat=True)[:batch_size]
    )
    warned = sum(connection_warn_refresh_lapse(connection_id=pk) for pk in list(lapsing))
    return {"enqueued": enqueued, "warned": warned}


# Above this many, a batch's messages are published by a worker instead (one message here, the rest there), so that
# beat's sweep stays short at a million connections and the workers publish in parallel.
FAN_OUT_ABOVE = 50


def enqueue_refreshes(connection_ids: list[int], *, force: bool = False) -> None:
    if len(connection_ids) > FAN_OUT_ABOVE:
        enqueue("connectors.tasks.publish_refreshes", list(connection_ids), force)
    else:
        publish_refreshes_each(connection_ids, force=force)


def publish_refreshes_each(connection_ids: list[int], *, force: bool = False) -> None:
    # No countdown (see the module's docstring): the sweep spreads the work by taking each connection as it comes
    # due, and the workers' concurrency bounds the rate at the exchange after a backlog. One producer for the batch.
    enqueue_each("connectors.tasks.refresh_connection", ([connection_id, force] for connection_id in connection_ids))


def connections_refresh_now(*, connection_ids: list[int], request=None) -> int:
    """An admin's "refresh now": clear any backoff, give a refused connection another chance, enqueue a forced
    refresh of each. Connections that need the user (reauthorization, revoked) are left to the user."""
    with transaction.atomic():
        connections = list(
            ExchangeConnection.objects.select_for_update(skip_locked=True)
            .filter(pk__in=connection_ids, status__in=[Status.ACTIVE, Status.ERROR])
            .select_related("tenant")
        )
        for connection in connections:
            connection.status = Status.ACTIVE
            connection.next_refresh_attempt_at = None
            connection.save(update_fields=["status", "next_refresh_attempt_at", "updated_at"])
            record_audit_event(
                tenant=connection.tenant,
                action="connection.refresh_requested",
                target=connection,
                request=request,
                details={"exchange": connection.exchange},
            )
        ids = [connection.pk for connection in connections]
        transaction.on_commit(lambda: enqueue_refreshes(ids, force=True))
    return len(ids)
