"""Step 1, the details: what is sent where, checked against the exchange's currency info and the balance."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction

from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.withdrawals import CurrencyInfo, ExchangeWithdrawals
from connectors.models import ExchangeConnection

from .. import fees
from ..models import Withdrawal
from ..selectors import withdrawal_capability
from . import exchange
from .errors import WithdrawalError
from .rows import audit

State = Withdrawal.State


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
        raise WithdrawalError("Enter a number.", field_errors={"amount": "Enter a number."}) from None
    error = fees.amount_error(amount)
    if error:
        raise WithdrawalError(error, field_errors={"amount": error})
    return amount


def withdrawal_max_amount(
    *, connection: ExchangeConnection, currency: str, chain: str, withdraw_type: str, fee_deduct_type: str
) -> Decimal:
    """The most the user can send of this currency this way, its fees counted: the details page's "Max"."""
    api, hooks, _ = exchange.exchange_context(connection)
    try:
        info = hooks.currency(api, connection, currency)
        available = hooks.available(api, connection, currency)
        network = info.chain(chain) if withdraw_type == "ADDRESS" else None
        price = hooks.price(api, currency) if hooks.has_service_fee and fee_deduct_type == fees.EXTERNAL else None
    except ExchangeUnavailable as error:
        raise WithdrawalError(f"The exchange could not be asked about {currency}: {error}") from error
    except ExchangeAPIError as error:
        raise WithdrawalError(hooks.refusal_message(error)) from error
    if withdraw_type == "ADDRESS" and info.chains and network is None:
        raise WithdrawalError(
            "Choose a network first.", field_errors={"chain": "Choose one of the currency's networks."}
        )
    # Where the network fee depends on the destination (Kraken's saved address), the fee comes out of the amount.
    chain_fee = network.withdrawal_fee if network else Decimal(0)
    return fees.max_amount(
        available=available,
        chain_fee=chain_fee,
        price_usdt=price.usdt if price else Decimal(1),
        precision=network.precision if network else info.precision,
        fee_deduct_type=fee_deduct_type,
        with_service_fee=price is not None,
    )


def withdrawal_save_details(
    *, tenant, user, connection: ExchangeConnection, idempotency_key, details: Details, request=None
) -> Withdrawal:
    """Create the draft for this idempotency key, or update it while it is still editable (back navigation)."""
    reason = withdrawal_capability(connection=connection)
    if reason:
        raise WithdrawalError(reason)
    api, hooks, _ = exchange.exchange_context(connection)
    try:
        info = hooks.currency(api, connection, details.currency)
        available = hooks.available(api, connection, details.currency)
    except ExchangeUnavailable as error:
        raise WithdrawalError(f"The exchange could not be asked about {details.currency}: {error}") from error
    except ExchangeAPIError as error:
        raise WithdrawalError(hooks.refusal_message(error)) from error
    errors = details_errors(details, hooks=hooks, info=info, available=available)
    if errors:
        raise WithdrawalError("Please correct the details.", field_errors=errors)
    chain = info.chain(details.chain) if details.withdraw_type == "ADDRESS" else None
    with transaction.atomic():
        withdrawal, created = Withdrawal.objects.select_for_update().get_or_create(
            tenant=tenant,
            user=user,
            idempotency_key=idempotency_key,
            defaults={
                "connection": connection,
                "exchange": connection.exchange,
                "amount": details.amount,
                "currency": details.currency,
                "destination": details.destination,
            },
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
        audit(
            withdrawal,
            "details_saved" if not created else "started",
            request,
            currency=details.currency,
            amount=str(details.amount),
            withdraw_type=details.withdraw_type,
            chain=withdrawal.chain,
        )
    return withdrawal


def _reset_after_details(withdrawal: Withdrawal) -> None:
    """New details invalidate the preview, the step-up and any 2FA transaction."""
    withdrawal.state = State.DRAFT
    for name in (
        "chain_fee",
        "service_fee",
        "total_debit",
        "amount_received",
        "price_usdt",
        "price_at",
        "quote_expires_at",
        "stepped_up_at",
        "factors_requested_at",
    ):
        setattr(withdrawal, name, None)
    withdrawal.exchange_transaction_id, withdrawal.factors_all, withdrawal.factors_sent = "", [], []
    withdrawal.last_error = ""
