"""Step 2, the preview: the exchange's fees and price quoted, kept for a while, and quoted again once expired."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.base.api import ExchangeAPI, ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.withdrawals import ExchangeWithdrawals, Price

from .. import fees
from ..models import Withdrawal
from . import exchange
from .errors import DetailsChanged, QuoteChanged, WithdrawalError
from .limits import check_broker_limits, recording_limit_refusals
from .rows import audit, lock_withdrawal

State = Withdrawal.State


def preview_ttl() -> timedelta:
    return timedelta(seconds=settings.WITHDRAWAL_PREVIEW_TTL_SECONDS)


def _quote(withdrawal: Withdrawal, api: ExchangeAPI, hooks: ExchangeWithdrawals) -> tuple[fees.FeeQuote, Price]:
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
        raise WithdrawalError(f"The exchange could not quote this withdrawal right now: {error}") from error
    except ExchangeAPIError as error:
        raise WithdrawalError(
            f"The exchange would not quote this withdrawal. {hooks.refusal_message(error)}"
        ) from error
    try:
        quote = fees.quote(
            amount=withdrawal.amount,
            chain_fee=chain_fee,
            price_usdt=price.usdt,
            precision=withdrawal.precision,
            fee_deduct_type=withdrawal.fee_deduct_type,
            with_service_fee=hooks.has_service_fee,
        )
    except fees.FeeError as error:
        raise WithdrawalError(f"This withdrawal cannot be quoted: {error}") from error
    if not quote.receives_something:
        raise WithdrawalError(
            f"The fees ({quote.total_fee.normalize():f} {withdrawal.currency}) take the whole "
            "amount: the recipient would receive nothing. Raise the amount or let your balance "
            "pay the fees."
        )
    if quote.total_debit > available:
        raise WithdrawalError(
            f"With fees this needs {quote.total_debit.normalize():f} {withdrawal.currency}; you "
            f"have {available.normalize():f} available."
        )
    return quote, price


def _reference_price(withdrawal: Withdrawal, api: ExchangeAPI, hooks: ExchangeWithdrawals) -> Decimal | None:
    """The USDT price, at the same exchange, of the currency the tenant shows the fees in (None where the
    exchange quotes none just now: the preview says "price unavailable" and the withdrawal goes on)."""
    currency = withdrawal.tenant.reference_currency
    if currency == "USDT":
        return Decimal(1)
    try:
        return hooks.price(api, currency).usdt
    except (ExchangeUnavailable, ExchangeAPIError):
        return None


def _apply_quote(withdrawal: Withdrawal, quote: fees.FeeQuote, price: Price) -> bool:
    """Store the figures; True when they differ from what the user saw."""
    changed = (withdrawal.total_debit, withdrawal.amount_received, withdrawal.service_fee, withdrawal.chain_fee) != (
        quote.total_debit,
        quote.amount_received,
        quote.service_fee,
        quote.chain_fee,
    )
    withdrawal.chain_fee, withdrawal.service_fee = quote.chain_fee, quote.service_fee
    withdrawal.total_debit, withdrawal.amount_received = quote.total_debit, quote.amount_received
    withdrawal.price_usdt, withdrawal.price_at = price.usdt, price.at
    withdrawal.quote_expires_at = timezone.now() + preview_ttl()
    return changed


def quote_is_fresh(withdrawal: Withdrawal) -> bool:
    return withdrawal.quote_expires_at is not None and withdrawal.quote_expires_at > timezone.now()


def quoted_value_usdt(withdrawal: Withdrawal) -> Decimal:
    """What the quoted debit is worth in USDT: the figure the broker's limits count."""
    if withdrawal.total_debit is None or withdrawal.price_usdt is None:
        raise WithdrawalError("Review the fees first.")
    return withdrawal.total_debit * withdrawal.price_usdt


def quoted_details(withdrawal: Withdrawal) -> tuple:
    """Everything a quote and the limit check depend on."""
    return (
        withdrawal.connection_id,
        withdrawal.currency,
        withdrawal.chain,
        withdrawal.withdraw_type,
        withdrawal.destination,
        withdrawal.memo,
        withdrawal.amount,
        withdrawal.fee_deduct_type,
        withdrawal.precision,
    )


def withdrawal_preview(*, withdrawal: Withdrawal, request=None) -> Withdrawal:
    """Quote (or re-quote) the fees. An expired quote whose figures changed sends the user back to review them."""
    if withdrawal.state not in Withdrawal.EDITABLE:
        raise WithdrawalError("This withdrawal was already sent.")
    if withdrawal.state != State.DRAFT and quote_is_fresh(withdrawal):
        return withdrawal
    api, hooks, _ = exchange.exchange_context(withdrawal.connection)
    quoted_for = quoted_details(withdrawal)
    quote, price = _quote(withdrawal, api, hooks)
    reference_price = _reference_price(withdrawal, api, hooks)
    with recording_limit_refusals(request):
        check_broker_limits(withdrawal=withdrawal, value_usdt=quote.total_debit * price.usdt)
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        if locked.state not in Withdrawal.EDITABLE:
            raise WithdrawalError("This withdrawal was already sent.")
        # The quote and the limit check ran without the lock: another tab may have saved other details since.
        if quoted_details(locked) != quoted_for:
            raise DetailsChanged(
                "The withdrawal's details changed while the fees were being quoted. Please review the preview again."
            )
        changed = _apply_quote(locked, quote, price)
        locked.reference_currency, locked.reference_price_usdt = withdrawal.tenant.reference_currency, reference_price
        requoted = locked.state != State.DRAFT
        if locked.state == State.DRAFT or changed:
            # New figures must be looked at again; a started 2FA transaction belongs to the old ones.
            locked.state = State.PREVIEWED
            locked.exchange_transaction_id, locked.factors_all, locked.factors_sent = "", [], []
        locked.save()
        audit(
            locked,
            "requoted" if requoted else "previewed",
            request,
            total_debit=str(quote.total_debit),
            amount_received=str(quote.amount_received),
            service_fee=str(quote.service_fee),
            chain_fee=str(quote.chain_fee),
            price_usdt=str(price.usdt),
            changed=changed,
        )
    if requoted and changed:
        raise QuoteChanged("The preview expired and the fees changed. Please review the new figures.")
    return locked
