"""Writes of payouts: a batch is created (once per reference), each user's deposit address is resolved at payout
time, the broker records the transaction it sent from its own wallet, and the user's deposit history at the
exchange confirms it."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from broker_portal.audit import record_audit_event
from broker_portal.enqueue import enqueue_on_commit
from broker_portal.errors import PortalError
from broker_portal.models import Tenant
from connectors.base.api import DepositAddressPending, DepositAddressRefused, ExchangeAPIError
from connectors.base.history import HistoryKind
from connectors.base.http import ExchangeUnavailable
from connectors.exchanges import history_source
from connectors.models import ExchangeConnection
from connectors.token_refresh import RefreshFailed
from deposits import selectors as deposit_selectors
from deposits import services as deposit_services
from exports.models import HistoryEntry
from exports.services.sync import sync_connection_history

from .models import Payout, PayoutBatch

logger = logging.getLogger(__name__)

MAX_PAYOUTS_PER_BATCH = 1000
MAX_REFERENCE_LENGTH = 100
MAX_TXID_LENGTH = 255
# A deposit credited a little before the address was resolved (clocks differ between the portal and the exchange)
# still confirms the payout; one from long before is someone else's money.
CLOCK_SLACK = timedelta(minutes=10)
RESOLVE_FAILURES = (DepositAddressRefused, DepositAddressPending, ExchangeUnavailable, ExchangeAPIError, RefreshFailed)


class PayoutError(PortalError):
    """A payout request the portal refuses; the message is for the broker admin, ``code`` for the API."""

    def __init__(self, message: str, *, code: str = "refused", fields: dict | None = None):
        super().__init__(message, error_code=code)
        self.code = code
        self.fields = fields or {}


@dataclass(frozen=True)
class PayoutItem:
    """One payout as asked for: the connection is looked up in the tenant by its id."""

    connection_id: int
    asset: str
    network: str
    amount: Decimal
    reference: str


def late_after() -> timedelta:
    return timedelta(minutes=settings.PAYOUTS_LATE_AFTER_MINUTES)


def missing_after() -> timedelta:
    return timedelta(hours=settings.PAYOUTS_MISSING_AFTER_HOURS)


def clean_item(raw: PayoutItem, index: int) -> PayoutItem:
    errors = {}
    try:
        asset = deposit_selectors.clean_asset(raw.asset)
    except DepositAddressRefused as refused:
        errors["asset"], asset = str(refused), ""
    network = (raw.network or "").strip()
    if not network or len(network) > deposit_selectors.MAX_NETWORK_LENGTH:
        errors["network"] = "Name the network by the exchange's id for it (see deposit-networks)."
    try:
        amount = Decimal(str(raw.amount))
        exponent = amount.as_tuple().exponent  # a letter, not an int, for NaN and infinity
        if not isinstance(exponent, int) or amount <= 0 or exponent < -18 or amount >= Decimal(10) ** 20:
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors["amount"], amount = "An amount above zero with at most 18 decimal places.", Decimal(0)
    reference = (raw.reference or "").strip()
    if not reference or len(reference) > MAX_REFERENCE_LENGTH:
        errors["reference"] = f"A reference of 1 to {MAX_REFERENCE_LENGTH} characters, unique to this payout."
    if errors:
        raise PayoutError(f"Payout {index + 1} is not valid.", code="invalid", fields={str(index): errors})
    return PayoutItem(connection_id=raw.connection_id, asset=asset, network=network, amount=amount, reference=reference)


def same_payout(payout: Payout, item: PayoutItem) -> bool:
    return (payout.connection_id, payout.asset, payout.network, payout.amount) == (
        item.connection_id,
        item.asset,
        item.network,
        item.amount,
    )


@transaction.atomic
def payout_batch_create(
    *, tenant: Tenant, name: str, items: list[PayoutItem], actor=None, request=None
) -> tuple[PayoutBatch, bool]:
    """A batch of payouts to connections of this tenant; returns it and whether it was made now.

    A reference names one payout for good: the same batch asked for again (every reference already used, each for
    the same payout) is answered with the batch made the first time, and a reference used for anything else is
    refused, so a retried request pays no one twice."""
    name = (name or "").strip()[:120]
    if not name:
        raise PayoutError("Name the batch.", code="invalid", fields={"name": "Name the batch."})
    if not items:
        raise PayoutError("Add at least one payout.", code="invalid")
    if len(items) > MAX_PAYOUTS_PER_BATCH:
        raise PayoutError(f"A batch holds at most {MAX_PAYOUTS_PER_BATCH} payouts.", code="invalid")
    items = [clean_item(item, index) for index, item in enumerate(items)]
    references = [item.reference for item in items]
    repeated = sorted({reference for reference in references if references.count(reference) > 1})
    if repeated:
        raise PayoutError(f"Each payout needs its own reference: {', '.join(repeated)} appear twice.", code="invalid")
    connections = ExchangeConnection.objects.filter(tenant=tenant).in_bulk({item.connection_id for item in items})
    unknown = [index for index, item in enumerate(items) if item.connection_id not in connections]
    if unknown:
        raise PayoutError(
            "Choose connections of this broker's users.",
            code="invalid",
            fields={str(index): {"connection": "Not found."} for index in unknown},
        )
    existing = {
        payout.reference: payout
        for payout in Payout.objects.select_for_update().filter(tenant=tenant, reference__in=references)
    }
    if existing:
        batches = {payout.batch_id for payout in existing.values()}
        if (
            len(existing) == len(items)
            and len(batches) == 1
            and all(same_payout(existing[item.reference], item) for item in items)
            and Payout.objects.filter(batch_id=next(iter(batches))).count() == len(items)
        ):
            return PayoutBatch.objects.get(pk=next(iter(batches))), False
        used = ", ".join(sorted(existing))
        raise PayoutError(f"These references were used for other payouts already: {used}.", code="reference_used")
    try:
        with transaction.atomic():
            batch = PayoutBatch.objects.create(tenant=tenant, name=name, created_by=actor)
            Payout.objects.bulk_create(
                [
                    Payout(
                        tenant=tenant,
                        batch=batch,
                        connection_id=item.connection_id,
                        user_id=connections[item.connection_id].user_id,
                        asset=item.asset,
                        network=item.network,
                        amount=item.amount,
                        reference=item.reference,
                    )
                    for item in items
                ]
            )
    except IntegrityError:
        # A twin request took the same references meanwhile; asked again, this one is answered with its batch.
        raise PayoutError(
            "Another request is creating payouts with these references; ask again in a moment.", code="in_progress"
        )
    record_audit_event(
        tenant=tenant,
        action="payout_batch.created",
        actor=actor,
        target=batch,
        request=request,
        details={
            "payouts": len(items),
            "references": references[:50],
            "assets": sorted({item.asset for item in items}),
        },
    )
    return batch, True


def resolve_refusal(connection: ExchangeConnection, error: Exception) -> str:
    name = connection.get_exchange_display()
    if isinstance(error, ExchangeUnavailable):
        return f"{name} cannot be reached right now; resolve again in a moment."
    if isinstance(error, DepositAddressRefused) and error.reason == DepositAddressRefused.UNKNOWN_NETWORK:
        return f"Network mismatch: {error}"
    if isinstance(error, (DepositAddressRefused, DepositAddressPending, RefreshFailed)):
        return str(error)
    return f"{name} refused: {error}"


def current_address(payout: Payout, request=None):
    """The user's address for the payout's asset on its network now, created where there is none and the exchange
    makes them (as the Receive page would)."""
    connection = payout.connection
    reason = deposit_selectors.deposit_capability(connection=connection)
    if reason:
        raise DepositAddressRefused(reason, reason=DepositAddressRefused.PERMISSION)
    found = deposit_services.deposit_address_get(connection=connection, asset=payout.asset, network_id=payout.network)
    if found.address is not None:
        return found.network, found.address
    if not found.can_create:
        raise DepositAddressRefused(
            f"The user has no {payout.asset} address on {found.network.name} at {connection.get_exchange_display()}, "
            "and the portal cannot create one.",
            reason=DepositAddressRefused.NOT_CREATABLE,
        )
    address = deposit_services.deposit_address_create(
        connection=connection, asset=payout.asset, network_id=payout.network, request=request
    )
    return found.network, address


def payout_resolve(*, payout: Payout, request=None) -> Payout:
    """Ask the exchange for the user's current deposit address, at the moment of payout; a payout already sent or
    received keeps the address it was sent to. A network the asset does not arrive on is refused by name."""
    if payout.status not in (Payout.Status.PENDING, Payout.Status.REFUSED, Payout.Status.RESOLVED):
        raise PayoutError(
            f"Payout {payout.reference} was sent already; its address stays the one it was sent to.",
            code="already_sent",
        )
    # The exchange is asked outside any transaction; the outcome is written in one.
    try:
        network, address = current_address(payout, request=request)
    except ExchangeUnavailable as error:
        # Nothing is known about the address: the payout stays as it was, with the reason.
        Payout.objects.filter(pk=payout.pk).update(error=resolve_refusal(payout.connection, error)[:500])
        payout.refresh_from_db()
        return payout
    except RESOLVE_FAILURES as error:
        with transaction.atomic():
            payout.status, payout.error = Payout.Status.REFUSED, resolve_refusal(payout.connection, error)[:500]
            payout.address = payout.memo = ""
            payout.save(update_fields=["status", "error", "address", "memo"])
            record_audit_event(
                tenant=payout.tenant,
                action="payout.refused",
                target=payout,
                request=request,
                details={"reference": payout.reference, "reason": payout.error},
            )
        return payout
    with transaction.atomic():
        payout.status, payout.error = Payout.Status.RESOLVED, ""
        payout.network_name, payout.address, payout.memo = network.name, address.address, address.memo or ""
        payout.resolved_at = timezone.now()
        payout.save(update_fields=["status", "error", "network_name", "address", "memo", "resolved_at"])
        record_audit_event(
            tenant=payout.tenant,
            action="payout.resolved",
            target=payout,
            request=request,
            details={
                "reference": payout.reference,
                "exchange": payout.connection.exchange,
                "asset": payout.asset,
                "network": payout.network,
                "address": payout.address,
            },
        )
    return payout


def payout_batch_resolve(*, batch: PayoutBatch, request=None) -> dict[str, int]:
    """Resolve every payout of the batch not sent yet; returns how many ended in each status."""
    outcome: dict[str, int] = {}
    payouts = batch.payouts.select_related("connection", "tenant").filter(
        status__in=[Payout.Status.PENDING, Payout.Status.REFUSED, Payout.Status.RESOLVED]
    )
    for payout in payouts:
        status = payout_resolve(payout=payout, request=request).status
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


@transaction.atomic
def payout_record_sent(*, payout: Payout, txid: str, request=None) -> Payout:
    """The broker sent the payout from its own wallet: the transaction id it got (empty where it has none) is what
    the deposit must carry to confirm it."""
    payout = Payout.objects.select_for_update().get(pk=payout.pk)
    txid = (txid or "").strip()
    if len(txid) > MAX_TXID_LENGTH or any(character.isspace() for character in txid):
        raise PayoutError(
            "A transaction id is one word of at most 255 characters.",
            code="invalid",
            fields={"txid": "Not a transaction id."},
        )
    if payout.status in (Payout.Status.PENDING, Payout.Status.REFUSED):
        raise PayoutError(f"Resolve payout {payout.reference}'s address before sending it.", code="not_resolved")
    if payout.status == Payout.Status.RECEIVED:
        raise PayoutError(f"Payout {payout.reference} was received already.", code="already_received")
    payout.txid = txid
    payout.sent_at = payout.sent_at or timezone.now()
    payout.status = Payout.Status.SENT
    payout.save(update_fields=["txid", "sent_at", "status"])
    record_audit_event(
        tenant=payout.tenant,
        action="payout.sent",
        target=payout,
        request=request,
        details={"reference": payout.reference, "txid": txid},
    )
    return payout


def txid_matches(sent: str, reported: str) -> bool:
    """KuCoin names a deposit by its walletTxId and suffixes it ("<hash>@<n>") where one transaction pays the
    account twice (connectors/kucoin/history.py); hashes compare without regard to case."""
    sent, reported = sent.lower(), reported.lower()
    return reported == sent or reported.startswith(sent + "@")


def matching_deposit(payout: Payout) -> HistoryEntry | None:
    """The oldest completed deposit of the payout's amount and asset to the user's connection since its address
    was resolved, not yet confirming another payout; to its address, and with its transaction id where known."""
    if payout.resolved_at is None:  # no address yet, so nothing can have arrived at it
        return None
    source = history_source(payout.connection.exchange)
    completed = sorted(source.completed_statuses.get(HistoryKind.DEPOSIT, ())) if source else []
    candidates = (
        HistoryEntry.objects.filter(
            connection_id=payout.connection_id,
            kind=HistoryKind.DEPOSIT,
            currency=payout.asset,
            amount=payout.amount,
            status__in=completed,
            occurred_at__gte=payout.resolved_at - CLOCK_SLACK,
            payout__isnull=True,
        )
        .filter(Q(address="") | Q(address=payout.address))
        .order_by("occurred_at", "id")
    )
    for entry in candidates:
        if not payout.txid or txid_matches(payout.txid, entry.txid):
            return entry
    return None


def unconfirmed_status(payout: Payout, now) -> str:
    waited = now - (payout.sent_at or payout.resolved_at)
    if waited > missing_after():
        return Payout.Status.MISSING
    if waited > late_after():
        return Payout.Status.LATE
    return Payout.Status.SENT if payout.sent_at else Payout.Status.RESOLVED


def payout_confirm(*, payout: Payout, now=None) -> Payout:
    """Match the payout in the deposit history held: received; or, not found, late or missing by how long it has
    been waiting (PAYOUTS_LATE_AFTER_MINUTES, PAYOUTS_MISSING_AFTER_HOURS). A late or missing payout that arrives
    afterwards is still received."""
    now = now or timezone.now()
    with transaction.atomic():
        payout = Payout.objects.select_for_update().select_related("connection", "tenant").get(pk=payout.pk)
        if payout.status not in Payout.OPEN:
            return payout
        deposit = matching_deposit(payout)
        before = payout.status
        if deposit is not None:
            payout.status, payout.deposit, payout.received_at = Payout.Status.RECEIVED, deposit, deposit.occurred_at
        else:
            payout.status = unconfirmed_status(payout, now)
        payout.checked_at = now
        payout.save(update_fields=["status", "deposit", "received_at", "checked_at"])
        if payout.status != before:
            details = {"reference": payout.reference, "from": before}
            if deposit is not None:
                details |= {"deposit": deposit.external_id, "txid": deposit.txid}
            action = "payout.confirmed" if deposit is not None else f"payout.{payout.status}"
            record_audit_event(tenant=payout.tenant, action=action, target=payout, details=details)
    return payout


def open_payouts(connection_id: int):
    return Payout.objects.filter(connection_id=connection_id, status__in=Payout.OPEN).order_by("pk")


def payouts_confirm_connection(*, connection: ExchangeConnection, now=None) -> dict[str, int]:
    """Read the connection's new deposits from the exchange (the exports' history sync, so they are also there for
    the accountant), then match each open payout; returns how many ended in each status."""
    if open_payouts(connection.pk).exists():
        try:
            sync_connection_history(connection=connection, kinds=[HistoryKind.DEPOSIT])
        except ExchangeUnavailable:
            raise  # the task retries later
        except Exception:
            # A refused read (a key gone, a refresh failed) leaves the deposits held so far to match; the sync state
            # shows the error on the exports page.
            logger.warning(
                "Deposit history of connection %s could not be read for payouts", connection.pk, exc_info=True
            )
    outcome: dict[str, int] = {}
    for payout in open_payouts(connection.pk):
        status = payout_confirm(payout=payout, now=now).status
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


def connections_with_open_payouts() -> list[int]:
    return list(
        Payout.objects.filter(status__in=Payout.OPEN, connection__status=ExchangeConnection.Status.ACTIVE)
        .values_list("connection_id", flat=True)
        .distinct()
        .order_by("connection_id")
    )


def payouts_check_deposits(*, batches) -> int:
    """The broker admin's "check now": each connection with a payout of these batches still to confirm reads its
    deposit history, a task each after commit; returns how many connections."""
    connection_ids = sorted(
        set(Payout.objects.filter(batch__in=batches, status__in=Payout.OPEN).values_list("connection_id", flat=True))
    )
    for connection_id in connection_ids:
        enqueue_on_commit("payouts.tasks.confirm_connection_payouts", connection_id)
    return len(connection_ids)


@transaction.atomic
def payouts_export(*, tenant: Tenant, request=None, batch_ids=None) -> str:
    """Every payout of the tenant (or of these batches) as the accountant's CSV; the download is audited."""
    from .formats import payouts_csv
    from .selectors import payouts_of

    payouts = list(payouts_of(tenant=tenant, batch_ids=batch_ids))
    record_audit_event(
        tenant=tenant,
        action="payouts.exported",
        request=request,
        details={"payouts": len(payouts), "batches": sorted(batch_ids) if batch_ids else None},
    )
    return payouts_csv(payouts)
