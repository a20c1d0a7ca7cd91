"""Writes of the withdrawal wizard: each step a service, each with its audit event.

Exchange calls happen outside database transactions, except where a row lock must cover them. Sending is
two-phase: under a row lock the row moves ``factors_requested → submitting`` (only one request can), that
commits, and only then the exchange is called. A timeout leaves ``unknown``, which only the exchange's
history resolves; nothing is sent again before that.
"""

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from django.conf import settings
from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone

from broker_portal.audit import record_audit_event
from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.clients import exchange_api
from connectors.models import ExchangeConnection
from connectors.selectors import connection_credential
from webhooks.events import withdrawal_data
from webhooks.services import event_record

from . import fees
from connectors.exchanges import withdrawal_hooks
from connectors.base.withdrawals import CurrencyInfo, ExchangeWithdrawals, SecuritySetupRequired
from .models import FactorRequest, Withdrawal, WithdrawalLimit
from .selectors import withdrawal_capability

logger = logging.getLogger(__name__)
State = Withdrawal.State

# States whose amount counts against the broker's limits.
COUNTED_STATES = (State.SUBMITTING, State.UNKNOWN, State.PROCESSING, State.SUCCEEDED)


def preview_ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "WITHDRAWAL_PREVIEW_TTL_SECONDS", 300))


def step_up_ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "WITHDRAWAL_STEP_UP_TTL_SECONDS", 600))


def stale_submit_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "WITHDRAWAL_STALE_SUBMIT_SECONDS", 120))


class WithdrawalError(Exception):
    """A step refused; the message is for the user. ``retry_at`` where waiting helps."""

    def __init__(self, message: str, *, retry_at: datetime | None = None, field_errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.retry_at = retry_at
        self.field_errors = field_errors or {}


class QuoteChanged(WithdrawalError):
    """The preview expired and the new one differs: the user reviews it before going on."""


class DetailsChanged(WithdrawalError):
    """The details changed while the exchange was quoting them: that quote is for other details."""


class BrokerLimitExceeded(WithdrawalError):
    """A broker admin's cap refused the withdrawal; carries what the audit and the admins' alert say."""

    def __init__(self, message: str, *, withdrawal: Withdrawal, limit: WithdrawalLimit, used_usdt: Decimal,
                 value_usdt: Decimal):
        super().__init__(message)
        self.withdrawal, self.limit, self.used_usdt, self.value_usdt = withdrawal, limit, used_usdt, value_usdt


@dataclass
class Details:
    currency: str
    chain: str
    withdraw_type: str
    destination: str
    memo: str
    remark: str
    amount: Decimal
    fee_deduct_type: str


def _audit(withdrawal: Withdrawal, action: str, request=None, **details) -> None:
    record_audit_event(tenant=withdrawal.tenant, action=f"withdrawal.{action}", actor=withdrawal.user,
                       target=withdrawal, request=request,
                       details={"state": withdrawal.state, "exchange": withdrawal.exchange, **details})


def exchange_context(connection: ExchangeConnection) -> tuple:
    """The connectors' signed API object and this app's hooks for a connection."""
    hooks = withdrawal_hooks(connection.exchange)
    credential = connection_credential(connection)
    api = exchange_api(credential)
    if hooks is None or api is None:
        raise WithdrawalError("Withdrawals are not offered for this exchange.")
    return api, hooks, credential


def _locked(withdrawal_id: int) -> Withdrawal:
    return Withdrawal.objects.select_for_update().select_related("tenant", "user", "connection").get(pk=withdrawal_id)


# --- step 1: details --------------------------------------------------------------------------------------


def details_errors(details: Details, *, hooks: ExchangeWithdrawals, info: CurrencyInfo, available: Decimal) -> dict:
    """Field errors of the details step against the exchange's currency info and the available balance."""
    errors: dict[str, str] = {}
    if details.withdraw_type not in hooks.withdraw_types:
        errors["withdraw_type"] = "This exchange does not withdraw that way."
    if details.fee_deduct_type not in hooks.fee_deduct_types:
        errors["fee_deduct_type"] = "This exchange does not deduct fees that way."
    if not details.destination.strip():
        errors["destination"] = "Enter where the funds go."
    elif details.withdraw_type == "MAIL" and "@" not in details.destination:
        errors["destination"] = "Enter an e-mail address."
    elif details.withdraw_type in ("UID", "PHONE") and not details.destination.lstrip("+").isdigit():
        errors["destination"] = "Enter digits only."
    precision = info.precision
    chain = None
    if details.withdraw_type == "ADDRESS" and info.chains:
        chain = info.chain(details.chain)
        if chain is None or not chain.enabled:
            errors["chain"] = "Choose one of the currency's networks."
        else:
            precision = chain.precision
    amount = details.amount
    amount_error = fees.amount_error(amount, precision)
    if amount_error:
        errors["amount"] = amount_error
    elif chain is not None and amount < chain.min_size:
        errors["amount"] = f"The minimum on this network is {chain.min_size.normalize():f} {details.currency}."
    elif amount > available:
        errors["amount"] = f"You have {available.normalize():f} {details.currency} available."
    return errors


def parse_amount(raw) -> Decimal:
    """A positive, finite Decimal of sane size (the asset's precision is checked with its details)."""
    try:
        amount = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise WithdrawalError("Enter a number.", field_errors={"amount": "Enter a number."})
    error = fees.amount_error(amount)
    if error:
        raise WithdrawalError(error, field_errors={"amount": error})
    return amount


def withdrawal_max_amount(*, connection: ExchangeConnection, currency: str, chain: str, withdraw_type: str,
                          fee_deduct_type: str) -> Decimal:
    """The most the user can send of this currency this way, its fees counted: the details page's "Max"."""
    api, hooks, _ = exchange_context(connection)
    try:
        info = hooks.currency(api, connection, currency)
        available = hooks.available(api, connection, currency)
        network = info.chain(chain) if withdraw_type == "ADDRESS" else None
        price = hooks.price(api, currency) if hooks.has_service_fee and fee_deduct_type == fees.EXTERNAL else None
    except ExchangeUnavailable as error:
        raise WithdrawalError(f"The exchange could not be asked about {currency}: {error}")
    except ExchangeAPIError as error:
        raise WithdrawalError(hooks.refusal_message(error))
    if withdraw_type == "ADDRESS" and info.chains and network is None:
        raise WithdrawalError("Choose a network first.", field_errors={"chain": "Choose one of the currency's networks."})
    # Where the network fee depends on the destination (Kraken's saved address), the fee comes out of the amount.
    chain_fee = network.withdrawal_fee if network else Decimal(0)
    return fees.max_amount(available=available, chain_fee=chain_fee, price_usdt=price.usdt if price else Decimal(1),
                           precision=network.precision if network else info.precision,
                           fee_deduct_type=fee_deduct_type, with_service_fee=price is not None)


def withdrawal_save_details(*, tenant, user, connection: ExchangeConnection, idempotency_key, details: Details,
                            request=None) -> Withdrawal:
    """Create the draft for this idempotency key, or update it while it is still editable (back navigation)."""
    reason = withdrawal_capability(connection=connection)
    if reason:
        raise WithdrawalError(reason)
    api, hooks, _ = exchange_context(connection)
    try:
        info = hooks.currency(api, connection, details.currency)
        available = hooks.available(api, connection, details.currency)
    except ExchangeUnavailable as error:
        raise WithdrawalError(f"The exchange could not be asked about {details.currency}: {error}")
    except ExchangeAPIError as error:
        raise WithdrawalError(hooks.refusal_message(error))
    errors = details_errors(details, hooks=hooks, info=info, available=available)
    if errors:
        raise WithdrawalError("Please correct the details.", field_errors=errors)
    chain = info.chain(details.chain) if details.withdraw_type == "ADDRESS" else None
    with transaction.atomic():
        withdrawal, created = Withdrawal.objects.select_for_update().get_or_create(
            tenant=tenant, user=user, idempotency_key=idempotency_key,
            defaults={"connection": connection, "exchange": connection.exchange, "amount": details.amount,
                      "currency": details.currency, "destination": details.destination},
        )
        if withdrawal.state not in (State.DRAFT, State.PREVIEWED, State.STEPPED_UP, State.FACTORS_REQUESTED):
            raise WithdrawalError("This withdrawal was already sent; its details can no longer change.")
        withdrawal.connection, withdrawal.exchange = connection, connection.exchange
        for name in ("currency", "withdraw_type", "destination", "memo", "remark", "amount", "fee_deduct_type"):
            setattr(withdrawal, name, getattr(details, name))
        withdrawal.chain = chain.chain_id if chain else ""
        withdrawal.chain_name = chain.name if chain and chain.chain_id else ""
        withdrawal.precision = chain.precision if chain else info.precision
        _reset_after_details(withdrawal)
        withdrawal.save()
        _audit(withdrawal, "details_saved" if not created else "started", request, currency=details.currency,
               amount=str(details.amount), withdraw_type=details.withdraw_type, chain=withdrawal.chain)
    return withdrawal


def _reset_after_details(withdrawal: Withdrawal) -> None:
    """New details invalidate the preview, the step-up and any 2FA transaction."""
    withdrawal.state = State.DRAFT
    for name in ("chain_fee", "service_fee", "total_debit", "amount_received", "price_usdt", "price_at",
                 "quote_expires_at", "stepped_up_at", "factors_requested_at"):
        setattr(withdrawal, name, None)
    withdrawal.exchange_transaction_id, withdrawal.factors_all, withdrawal.factors_sent = "", [], []
    withdrawal.last_error = ""


# --- step 2: preview --------------------------------------------------------------------------------------


def _quote(withdrawal: Withdrawal, api, hooks: ExchangeWithdrawals):
    """Fresh figures from the exchange: chain fee, price, and the available balance."""
    try:
        info = hooks.currency(api, withdrawal.connection, withdrawal.currency)
        price = hooks.price(api, withdrawal.currency)
        available = hooks.available(api, withdrawal.connection, withdrawal.currency)
        if hasattr(hooks, "chain_fee"):
            chain_fee = hooks.chain_fee(api, withdrawal.connection, withdrawal)
        else:
            chain = info.chain(withdrawal.chain)
            # UID, MAIL and PHONE transfers stay inside the exchange: no network fee.
            chain_fee = chain.withdrawal_fee if (chain and withdrawal.withdraw_type == "ADDRESS") else Decimal(0)
    except ExchangeUnavailable as error:
        raise WithdrawalError(f"The exchange could not quote this withdrawal right now: {error}")
    except ExchangeAPIError as error:
        raise WithdrawalError(f"The exchange would not quote this withdrawal. {hooks.refusal_message(error)}")
    try:
        quote = fees.quote(amount=withdrawal.amount, chain_fee=chain_fee, price_usdt=price.usdt,
                           precision=withdrawal.precision, fee_deduct_type=withdrawal.fee_deduct_type,
                           with_service_fee=hooks.has_service_fee)
    except fees.FeeError as error:
        raise WithdrawalError(f"This withdrawal cannot be quoted: {error}")
    if not quote.receives_something:
        raise WithdrawalError(f"The fees ({quote.total_fee.normalize():f} {withdrawal.currency}) take the whole "
                              "amount: the recipient would receive nothing. Raise the amount or let your balance "
                              "pay the fees.")
    if quote.total_debit > available:
        raise WithdrawalError(f"With fees this needs {quote.total_debit.normalize():f} {withdrawal.currency}; you "
                              f"have {available.normalize():f} available.")
    return quote, price


def _apply_quote(withdrawal: Withdrawal, quote: fees.FeeQuote, price) -> bool:
    """Store the figures; True when they differ from what the user saw."""
    changed = (withdrawal.total_debit, withdrawal.amount_received, withdrawal.service_fee, withdrawal.chain_fee) != (
        quote.total_debit, quote.amount_received, quote.service_fee, quote.chain_fee)
    withdrawal.chain_fee, withdrawal.service_fee = quote.chain_fee, quote.service_fee
    withdrawal.total_debit, withdrawal.amount_received = quote.total_debit, quote.amount_received
    withdrawal.price_usdt, withdrawal.price_at = price.usdt, price.at
    withdrawal.quote_expires_at = timezone.now() + preview_ttl()
    return changed


def quote_is_fresh(withdrawal: Withdrawal) -> bool:
    return withdrawal.quote_expires_at is not None and withdrawal.quote_expires_at > timezone.now()


def quoted_details(withdrawal: Withdrawal) -> tuple:
    """Everything a quote and the limit check depend on."""
    return (withdrawal.connection_id, withdrawal.currency, withdrawal.chain, withdrawal.withdraw_type,
            withdrawal.destination, withdrawal.memo, withdrawal.amount, withdrawal.fee_deduct_type,
            withdrawal.precision)


def withdrawal_preview(*, withdrawal: Withdrawal, request=None) -> Withdrawal:
    """Quote (or re-quote) the fees. An expired quote whose figures changed sends the user back to review them."""
    if withdrawal.state not in Withdrawal.EDITABLE:
        raise WithdrawalError("This withdrawal was already sent.")
    if withdrawal.state != State.DRAFT and quote_is_fresh(withdrawal):
        return withdrawal
    api, hooks, _ = exchange_context(withdrawal.connection)
    quoted_for = quoted_details(withdrawal)
    quote, price = _quote(withdrawal, api, hooks)
    with recording_limit_refusals(request):
        check_broker_limits(withdrawal=withdrawal, value_usdt=quote.total_debit * price.usdt)
    with transaction.atomic():
        locked = _locked(withdrawal.pk)
        if locked.state not in Withdrawal.EDITABLE:
            raise WithdrawalError("This withdrawal was already sent.")
        # The quote and the limit check ran without the lock: another tab may have saved other details since.
        if quoted_details(locked) != quoted_for:
            raise DetailsChanged("The withdrawal's details changed while the fees were being quoted. "
                                 "Please review the preview again.")
        changed = _apply_quote(locked, quote, price)
        requoted = locked.state != State.DRAFT
        if locked.state == State.DRAFT or changed:
            # New figures must be looked at again; a started 2FA transaction belongs to the old ones.
            locked.state = State.PREVIEWED
            locked.exchange_transaction_id, locked.factors_all, locked.factors_sent = "", [], []
        locked.save()
        _audit(locked, "requoted" if requoted else "previewed", request, total_debit=str(quote.total_debit),
               amount_received=str(quote.amount_received), service_fee=str(quote.service_fee),
               chain_fee=str(quote.chain_fee), price_usdt=str(price.usdt), changed=changed)
    if requoted and changed:
        raise QuoteChanged("The preview expired and the fees changed. Please review the new figures.")
    return locked


# --- step 3: the portal's step-up -------------------------------------------------------------------------


def withdrawal_step_up(*, withdrawal: Withdrawal, authenticated_at: datetime, request=None) -> Withdrawal:
    """Record that the user re-authenticated with MFA for this withdrawal (the view checks allauth's record)."""
    with transaction.atomic():
        locked = _locked(withdrawal.pk)
        if locked.state not in (State.PREVIEWED, State.STEPPED_UP, State.FACTORS_REQUESTED):
            raise WithdrawalError("Review the preview first.")
        if not quote_is_fresh(locked):
            raise WithdrawalError("The preview expired; review the fees again.")
        locked.stepped_up_at = authenticated_at
        if locked.state == State.PREVIEWED:
            locked.state = State.STEPPED_UP
        locked.save(update_fields=["stepped_up_at", "state", "updated_at"])
        _audit(locked, "stepped_up", request)
    rotate_session(request)
    return locked


def rotate_session(request) -> None:
    """A new session key after the step-up, so a key seen before it does not carry the stepped-up session
    (ASVS V3.2.1: a new session token on re-authentication). A token-only API call has no session to rotate."""
    session = getattr(request, "session", None) if request is not None else None
    if session is not None and session.session_key:
        session.cycle_key()


def withdrawal_step_up_refused(*, withdrawal: Withdrawal, request=None) -> None:
    """Record a wrong portal MFA code at the step-up; nothing about the withdrawal changes."""
    _audit(withdrawal, "step_up_refused", request, reason="wrong_mfa_code")


def step_up_is_fresh(withdrawal: Withdrawal) -> bool:
    return withdrawal.stepped_up_at is not None and withdrawal.stepped_up_at > timezone.now() - step_up_ttl()


# --- limits -----------------------------------------------------------------------------------------------


def check_exchange_rate_limit(*, withdrawal: Withdrawal, hooks: ExchangeWithdrawals, now: datetime,
                              lock: bool = False) -> None:
    """The exchange's own limits on UID/MAIL/PHONE withdrawals, checked before calling it.

    With ``lock`` the connection's row is locked until the transaction ends, so withdrawals of one account
    are counted one after the other."""
    if withdrawal.withdraw_type not in hooks.rate_limited_types:
        return
    if lock:
        ExchangeConnection.objects.select_for_update().filter(pk=withdrawal.connection_id).exists()
    requests = FactorRequest.objects.filter(connection=withdrawal.connection,
                                            withdraw_type__in=hooks.rate_limited_types)
    for window, limit in hooks.rate_limits:
        recent = list(requests.filter(requested_at__gt=now - window).order_by("requested_at")
                      .values_list("requested_at", flat=True)[:limit])
        if len(recent) >= limit:
            retry_at = recent[0] + window
            raise WithdrawalError(f"The exchange allows {limit} such withdrawals per {_duration(window)}. "
                                  f"Try again at {retry_at:%Y-%m-%d %H:%M:%S} UTC.", retry_at=retry_at)


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    return f"{seconds // 3600} hours" if seconds >= 3600 else f"{seconds} seconds"


def check_broker_limits(*, withdrawal: Withdrawal, value_usdt: Decimal, now: datetime | None = None,
                        lock: bool = False) -> None:
    """The broker admin's caps in USDT over rolling windows, per user and for the tenant.

    With ``lock`` (inside the transaction that marks a withdrawal as sent) the tenant's limit rows are locked,
    so two different withdrawals cannot both pass on the same remaining allowance."""
    now = now or timezone.now()
    value = ExpressionWrapper(F("total_debit") * F("price_usdt"), output_field=DecimalField(max_digits=60,
                                                                                              decimal_places=18))
    limits = WithdrawalLimit.objects.filter(tenant_id=withdrawal.tenant_id).order_by("pk")
    for limit in (limits.select_for_update() if lock else limits):
        counted = Withdrawal.objects.filter(tenant_id=withdrawal.tenant_id, state__in=COUNTED_STATES,
                                            submit_started_at__gt=now - timedelta(hours=limit.window_hours))
        if limit.scope == WithdrawalLimit.Scope.PER_USER:
            counted = counted.filter(user_id=withdrawal.user_id)
        used = counted.exclude(pk=withdrawal.pk).aggregate(total=Sum(value))["total"] or Decimal(0)
        if used + value_usdt > limit.max_usdt:
            who = "your" if limit.scope == WithdrawalLimit.Scope.PER_USER else "this broker's"
            left = max(limit.max_usdt - used, Decimal(0)).quantize(Decimal("0.01"))
            raise BrokerLimitExceeded(f"This exceeds {who} withdrawal limit of {limit.max_usdt} USDT per "
                                      f"{limit.window_hours} hours ({left} USDT left).", withdrawal=withdrawal,
                                      limit=limit, used_usdt=used, value_usdt=value_usdt)


@contextmanager
def recording_limit_refusals(request=None):
    """Audit a limit refusal and alert the tenant's broker admins. Outermost, so that a refusal met inside a
    transaction (the send's) is recorded after that transaction has rolled back, not rolled back with it."""
    try:
        yield
    except BrokerLimitExceeded as refusal:
        withdrawal_record_limit_refusal(refusal=refusal, request=request)
        raise


def withdrawal_record_limit_refusal(*, refusal: BrokerLimitExceeded, request=None) -> None:
    from .tasks import notify_broker_admins_of_limit_refusal

    limit = refusal.limit
    with transaction.atomic():
        _audit(refusal.withdrawal, "refused_by_limit", request, limit_id=limit.pk, scope=limit.scope,
               max_usdt=str(limit.max_usdt), window_hours=limit.window_hours, used_usdt=str(refusal.used_usdt),
               value_usdt=str(refusal.value_usdt))
        event_record(tenant=refusal.withdrawal.tenant_id, type="withdrawal.limit_refused", payload=withdrawal_data(
            refusal.withdrawal, limit_id=limit.pk, scope=limit.scope, max_usdt=str(limit.max_usdt),
            window_hours=limit.window_hours, value_usdt=str(refusal.value_usdt)))
        withdrawal_id, limit_id, value = refusal.withdrawal.pk, limit.pk, str(refusal.value_usdt)
        transaction.on_commit(lambda: notify_broker_admins_of_limit_refusal.delay(withdrawal_id, limit_id, value))


# --- steps 4 and 5: the exchange's security check and its 2FA factors -------------------------------------


def withdrawal_request_factors(*, withdrawal: Withdrawal, request=None) -> Withdrawal:
    """Ask the exchange to start its 2FA (it sends the codes it sends). Raises SecuritySetupRequired with the
    exchange's link where the user has no 2FA there."""
    api, hooks, credential = exchange_context(withdrawal.connection)
    if not hooks.needs_factors:
        return withdrawal
    with transaction.atomic():
        # The lock is held over the call so a double click cannot start two verifications (and two e-mails).
        locked = _locked(withdrawal.pk)
        if locked.state not in (State.STEPPED_UP, State.FACTORS_REQUESTED):
            raise WithdrawalError("Confirm it is you first.")
        if not step_up_is_fresh(locked):
            raise WithdrawalError("Please confirm it is you again.")
        if not quote_is_fresh(locked):
            raise WithdrawalError("The preview expired; review the fees again.")
        now = timezone.now()
        check_exchange_rate_limit(withdrawal=locked, hooks=hooks, now=now, lock=True)
        refusal: Exception | None = None
        try:
            factors = hooks.request_factors(api, locked.connection, locked)
        except SecuritySetupRequired as setup:
            refusal = setup
            _audit(locked, "security_setup_required", request)
        except ExchangeUnavailable as error:
            retry_at = now + timedelta(seconds=error.retry_after) if error.retry_after else None
            refusal = WithdrawalError(f"The exchange is not taking this request now ({error})"
                                      + (f"; try again at {retry_at:%H:%M:%S} UTC." if retry_at else "."),
                                      retry_at=retry_at)
            _audit(locked, "exchange_unavailable", request, step="factors", error=str(error),
                   retry_at=retry_at.isoformat() if retry_at else None)
        except ExchangeAPIError as error:
            refusal = WithdrawalError(f"The exchange refused the withdrawal. {hooks.refusal_message(error)}")
            # Not "code": the audit log drops that key (it is kept for secrets such as 2FA codes).
            _audit(locked, "refused", request, error_code=error.code)
        # The exchange counts every attempt it received; so do we (kept even when it refused).
        FactorRequest.objects.create(tenant_id=locked.tenant_id, connection_id=locked.connection_id,
                                     withdrawal=locked, withdraw_type=locked.withdraw_type, requested_at=now)
        if refusal is None:
            locked.exchange_transaction_id = factors.transaction_id
            locked.factors_all, locked.factors_sent = factors.all_factors, factors.sent_factors
            locked.factors_requested_at, locked.state, locked.last_error = now, State.FACTORS_REQUESTED, ""
            locked.save()
            _audit(locked, "factors_requested", request, all_factors=factors.all_factors,
                   sent_factors=factors.sent_factors)
    if refusal is not None:
        raise refusal
    return locked


def security_return_url_target(*, tenant, user) -> Withdrawal | None:
    """Where the exchange's security setup sends the user back: their newest withdrawal waiting for it."""
    return (Withdrawal.objects.filter(tenant=tenant, user=user, state__in=(State.STEPPED_UP, State.FACTORS_REQUESTED))
            .order_by("-updated_at").first())


# --- step 6: submit, exactly once -------------------------------------------------------------------------


def _ready_state(hooks: ExchangeWithdrawals) -> str:
    return State.FACTORS_REQUESTED if hooks.needs_factors else State.STEPPED_UP


def withdrawal_submit(*, withdrawal_id: int, tenant, user, codes: dict, request=None) -> Withdrawal:
    """Send the withdrawal once. Concurrent or repeated calls find it ``submitting`` or later and send nothing."""
    with recording_limit_refusals(request), transaction.atomic():
        try:
            locked = Withdrawal.objects.select_for_update().select_related("tenant", "user", "connection").get(
                pk=withdrawal_id, tenant=tenant, user=user)
        except Withdrawal.DoesNotExist:
            raise WithdrawalError("Not found.")
        if locked.state in Withdrawal.OPEN_AT_EXCHANGE or locked.state == State.SUCCEEDED:
            return locked  # already sent or being sent: a double click lands here
        api, hooks, _ = exchange_context(locked.connection)
        if locked.state != _ready_state(hooks):
            raise WithdrawalError("This withdrawal is not ready to be sent.")
        if not step_up_is_fresh(locked):
            raise WithdrawalError("Please confirm it is you again.")
        if not quote_is_fresh(locked):
            raise WithdrawalError("The preview expired; review the fees again.")
        if hooks.needs_factors:
            missing = {factor for group in locked.factors_all for factor in group} - {k for k, v in codes.items() if v}
            if missing:
                raise WithdrawalError(f"Enter every code ({', '.join(sorted(missing))}).")
        check_broker_limits(withdrawal=locked, value_usdt=locked.total_debit * locked.price_usdt, lock=True)
        locked.state, locked.submit_started_at, locked.last_error = State.SUBMITTING, timezone.now(), ""
        locked.save(update_fields=["state", "submit_started_at", "last_error", "updated_at"])
        _audit(locked, "submitting", request)
    # Committed: every other request now sees "submitting". Only this one calls the exchange.
    try:
        exchange_id = hooks.submit(api, locked.connection, locked, codes)
    except ExchangeAPIError as error:
        if error.code:
            return _submit_refused(locked, error, request, hooks)
        # No error code of the exchange's (a body that is not its JSON, a success without the withdrawal id):
        # not a clear refusal, so the exchange may have executed it.
        return _submit_unanswered(locked, error, request)
    except ExchangeUnavailable as error:
        if error.retry_after is not None:
            # Only a 429 carries retry_after: the exchange turned the request away unexecuted.
            return _submit_rate_limited(locked, error, hooks, request)
        return _submit_unanswered(locked, error, request)
    except Exception as error:  # a timeout, a reset, anything: the exchange may have executed it
        return _submit_unanswered(locked, error, request)
    with transaction.atomic():
        locked = _locked(locked.pk)
        _mark_processing(locked, exchange_id)
        _audit(locked, "submitted", request, exchange_withdrawal_id=exchange_id)
    return locked


def _record_submitted(withdrawal: Withdrawal) -> None:
    event_record(tenant=withdrawal.tenant_id, type="withdrawal.submitted",
                 payload=withdrawal_data(withdrawal, exchange_withdrawal_id=withdrawal.exchange_withdrawal_id))


def transaction_hash(withdrawal: Withdrawal) -> str | None:
    """The chain's hash, where the synced history of the exchange's withdrawals has shown it."""
    from exports.models import HistoryEntry

    return HistoryEntry.objects.filter(connection_id=withdrawal.connection_id, kind="withdrawal",
                                       external_id=withdrawal.exchange_withdrawal_id).exclude(txid="").values_list(
        "txid", flat=True).first()


def _mark_processing(withdrawal: Withdrawal, exchange_id: str) -> None:
    withdrawal.state, withdrawal.exchange_withdrawal_id = State.PROCESSING, exchange_id
    withdrawal.submitted_at, withdrawal.last_error = timezone.now(), ""
    withdrawal.exchange_transaction_id = ""  # spent
    withdrawal.save()
    _record_submitted(withdrawal)
    _enqueue_poll(withdrawal.pk, countdown=5)


def _submit_unanswered(withdrawal: Withdrawal, error: Exception, request) -> Withdrawal:
    """No clear answer: only the exchange's history can tell whether it was executed; nothing is sent again."""
    logger.warning("Withdrawal %s: no clear answer from the exchange (%s); reconciling.", withdrawal.pk,
                   type(error).__name__)
    with transaction.atomic():
        locked = _locked(withdrawal.pk)
        locked.state, locked.last_error = State.UNKNOWN, "The exchange did not answer clearly; checking its history."
        locked.save(update_fields=["state", "last_error", "updated_at"])
        _audit(locked, "unknown", request, error=type(error).__name__)
        _enqueue_poll(locked.pk, countdown=5)
    return locked


def _submit_rate_limited(withdrawal: Withdrawal, error: ExchangeUnavailable, hooks: ExchangeWithdrawals,
                         request) -> NoReturn:
    """The exchange asked us to slow down and executed nothing: ready to send again, the same codes step."""
    retry_at = timezone.now() + timedelta(seconds=error.retry_after)
    message = f"The exchange is limiting requests right now. Try again at {retry_at:%Y-%m-%d %H:%M:%S} UTC."
    with transaction.atomic():
        locked = _locked(withdrawal.pk)
        # The preview, the step-up and the exchange's 2FA transaction stay as they were (each still expires).
        locked.state, locked.submit_started_at, locked.last_error = _ready_state(hooks), None, message
        locked.save(update_fields=["state", "submit_started_at", "last_error", "updated_at"])
        _audit(locked, "rate_limited", request, retry_at=retry_at.isoformat())
    raise WithdrawalError(message, retry_at=retry_at)


def _submit_refused(withdrawal: Withdrawal, error: ExchangeAPIError, request, hooks: ExchangeWithdrawals) -> Withdrawal:
    """The exchange answered no: nothing was executed. Wrong codes may be entered again."""
    with transaction.atomic():
        locked = _locked(withdrawal.pk)
        if error.code in hooks.wrong_code_errors:
            locked.state, message = State.FACTORS_REQUESTED, "A code was not right. Enter the current codes again."
        elif error.code in hooks.restart_verification_errors and "transaction" in str(error).lower():
            locked.state, message = State.STEPPED_UP, "The verification ended. Request new codes."
            locked.exchange_transaction_id, locked.factors_all, locked.factors_sent = "", [], []
        else:
            locked.state, message = State.FAILED, f"The exchange refused the withdrawal. {hooks.refusal_message(error)}"
            locked.completed_at = timezone.now()
        locked.last_error = message[:500]
        locked.save()
        _audit(locked, "refused", request, error_code=error.code)
    if locked.state == State.FAILED:
        return locked
    raise WithdrawalError(message)


def withdrawal_cancel(*, withdrawal: Withdrawal, request=None) -> Withdrawal:
    with transaction.atomic():
        locked = _locked(withdrawal.pk)
        if locked.state not in Withdrawal.EDITABLE:
            raise WithdrawalError("A sent withdrawal cannot be cancelled here.")
        locked.state, locked.exchange_transaction_id = State.CANCELLED, ""
        locked.save(update_fields=["state", "exchange_transaction_id", "updated_at"])
        _audit(locked, "cancelled", request)
    return locked


# --- step 7: following it, and reconciling "unknown" ------------------------------------------------------


def _enqueue_poll(withdrawal_id: int, countdown: int) -> None:
    from .tasks import withdrawal_poll

    transaction.on_commit(lambda: withdrawal_poll.apply_async(args=[withdrawal_id], countdown=countdown))


def withdrawal_reconcile(*, withdrawal_id: int) -> Withdrawal:
    """Resolve ``unknown`` (or a ``submitting`` that never came back) from the exchange's history only."""
    withdrawal = Withdrawal.objects.select_related("tenant", "user", "connection").get(pk=withdrawal_id)
    stale = withdrawal.state == State.SUBMITTING and withdrawal.submit_started_at < timezone.now() - stale_submit_after()
    if withdrawal.state != State.UNKNOWN and not stale:
        return withdrawal
    api, hooks, _ = exchange_context(withdrawal.connection)
    candidates = hooks.sent_candidates(api, withdrawal.connection, withdrawal)
    with transaction.atomic():
        locked = _locked(withdrawal_id)
        if locked.state not in (State.UNKNOWN, State.SUBMITTING):
            return locked
        found = _first_unrecorded(locked, candidates)
        expires_after = hooks.lost_submit_expires_after()
        if found:
            _mark_processing(locked, found)
            _audit(locked, "reconciled", found=True, exchange_withdrawal_id=found)
        elif expires_after is not None and locked.submit_started_at + expires_after < timezone.now():
            # The exchange can no longer execute that request: the user may verify and send again.
            _reset_to_verify(locked, hooks)
            _audit(locked, "reconciled", found=False)
        else:
            # Not in the history yet, and the exchange may still execute it: keep checking, never send again.
            was_submitting = locked.state == State.SUBMITTING
            locked.state, locked.last_polled_at = State.UNKNOWN, timezone.now()
            locked.last_error = ("The exchange's history does not show this withdrawal yet; we keep checking. "
                                 "Do not send it again.")
            locked.save(update_fields=["state", "last_polled_at", "last_error", "updated_at"])
            if was_submitting:
                _audit(locked, "unknown", error="stale")
    return locked


def _first_unrecorded(withdrawal: Withdrawal, candidates: list[str]) -> str | None:
    """The first candidate no other row of this connection already stands for (one row per exchange id)."""
    recorded = set(Withdrawal.objects.filter(connection_id=withdrawal.connection_id,
                                             exchange_withdrawal_id__in=candidates)
                   .exclude(pk=withdrawal.pk).values_list("exchange_withdrawal_id", flat=True))
    return next((candidate for candidate in candidates if candidate not in recorded), None)


def _reset_to_verify(withdrawal: Withdrawal, hooks: ExchangeWithdrawals) -> None:
    withdrawal.state = State.PREVIEWED
    withdrawal.exchange_transaction_id, withdrawal.factors_all, withdrawal.factors_sent = "", [], []
    withdrawal.stepped_up_at = None
    withdrawal.last_error = "The exchange never executed this withdrawal. Review it and send it again."
    withdrawal.save()


def withdrawal_refresh_status(*, withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_related("tenant", "user", "connection").get(pk=withdrawal_id)
    if withdrawal.state in (State.UNKNOWN, State.SUBMITTING):
        return withdrawal_reconcile(withdrawal_id=withdrawal_id)
    if withdrawal.state != State.PROCESSING:
        return withdrawal
    api, hooks, _ = exchange_context(withdrawal.connection)
    status = hooks.status(api, withdrawal.connection, withdrawal)
    with transaction.atomic():
        locked = _locked(withdrawal_id)
        if locked.state != State.PROCESSING:
            return locked
        locked.exchange_status, locked.last_polled_at = status.raw, timezone.now()
        locked.transaction_hash = status.transaction_hash or locked.transaction_hash
        if status.final:
            locked.state = State.SUCCEEDED if status.succeeded else State.FAILED
            locked.completed_at = timezone.now()
            locked.save()
            _audit(locked, "succeeded" if status.succeeded else "failed", exchange_status=status.raw)
            event_record(tenant=locked.tenant_id, type="withdrawal.status_changed", payload=withdrawal_data(
                locked, state=locked.state, previous_state=State.PROCESSING, exchange_status=status.raw,
                exchange_withdrawal_id=locked.exchange_withdrawal_id, transaction_hash=transaction_hash(locked)))
        else:
            locked.save(update_fields=["exchange_status", "last_polled_at", "transaction_hash", "updated_at"])
    return locked
