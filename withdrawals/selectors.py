"""Reads of the withdrawal wizard."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.db.models import Q
from django.utils import timezone

from broker_portal.tenancy import get_for_tenant
from connectors.exchanges import EXCHANGES, withdrawal_hooks
from connectors.models import ExchangeConnection
from connectors.selectors import connect_url

from . import fees
from .models import Withdrawal


def withdrawal_capability(*, connection: ExchangeConnection) -> str:
    """Why this connection cannot withdraw, or "" when it can."""
    exchange = EXCHANGES.get(connection.exchange)
    if exchange is None or withdrawal_hooks(connection.exchange) is None or not exchange.withdrawal_permissions:
        return f"{exchange.name if exchange else connection.exchange} withdrawals are not offered through the portal."
    if not set(exchange.withdrawal_permissions) & set(connection.permissions or []):
        labels = [p.label for p in exchange.permissions if p.code in exchange.withdrawal_permissions]
        return f"You did not grant the “{labels[0]}” permission. Reconnect {exchange.name} and tick it to withdraw."
    if connection.status != ExchangeConnection.Status.ACTIVE:
        return f"The {exchange.name} connection is not active ({connection.get_status_display().lower()})."
    if not connection.api_key:
        return f"The {exchange.name} connection has no API key; reconnect it."
    return ""


def withdrawal_upgrade_url(*, connection: ExchangeConnection) -> str:
    """Where the user adds the exchange's withdrawal permission to this connection in place (its permission
    page with that permission pre-ticked), or "" where a reconnect would not make it able to withdraw."""
    exchange = EXCHANGES.get(connection.exchange)
    if (
        exchange is None
        or withdrawal_hooks(connection.exchange) is None
        or not exchange.withdrawal_permissions
        or set(exchange.withdrawal_permissions) & set(connection.permissions or [])
    ):
        return ""
    url = connect_url(connection.exchange, connection.server_slug)
    return f"{url}?{urlencode({'add': exchange.withdrawal_permissions[0]})}" if url else ""


def withdrawal_get(*, request, withdrawal_id) -> Withdrawal:
    """The signed-in user's own withdrawal at this tenant; anyone else's answers 404."""
    queryset = Withdrawal.objects.select_related("connection", "tenant", "user").filter(user=request.user)
    return get_for_tenant(queryset, request.tenant, pk=withdrawal_id)


# A withdrawal never sent and not touched for this long was left: the list no longer shows it (it stays in the
# table, and its own page still continues it).
ABANDONED_AFTER = timedelta(hours=1)


def withdrawal_list(*, tenant, user) -> list[Withdrawal]:
    """The user's withdrawals, newest first, with their connection (for the exchange's name) in the same query;
    neither cancelled ones nor abandoned drafts."""
    abandoned = Q(state__in=Withdrawal.EDITABLE, updated_at__lt=timezone.now() - ABANDONED_AFTER)
    return list(
        Withdrawal.objects.filter(tenant=tenant, user=user)
        .exclude(state=Withdrawal.State.CANCELLED)
        .exclude(abandoned)
        .select_related("connection")
        .order_by("-created_at")[:50]
    )


def withdrawal_fee_rule(*, withdrawal: Withdrawal) -> list[str]:
    """How the fees of this withdrawal are made, in words."""
    hooks = withdrawal_hooks(withdrawal.exchange)
    exchange = EXCHANGES[withdrawal.exchange].name
    currency = withdrawal.currency
    if withdrawal.fee_deduct_type == Withdrawal.FeeDeductType.EXTERNAL:
        rule = [
            f"The fees are paid from your {exchange} balance on top of the amount, so the recipient gets "
            f"the full {format(withdrawal.amount.normalize(), 'f')} {currency}."
        ]
    else:
        rule = ["The fees are taken out of the amount, so the recipient gets the amount less the fees."]
    if withdrawal.withdraw_type == Withdrawal.WithdrawType.ADDRESS:
        network = f"the {withdrawal.chain_name} network" if withdrawal.chain_name else "its network"
        rule.append(f"The network fee is what {exchange} charges to send {currency} on {network}.")
    else:
        rule.append(f"A transfer to another {exchange} account has no network fee.")
    if hooks is not None and hooks.has_service_fee:
        rule.append(
            f"{exchange}'s service fee for withdrawals through a broker is "
            f"{fees.SERVICE_FEE_RATE * 100:.0f}% of the amount, at least {fees.SERVICE_FEE_MIN_USDT} USDT "
            f"and at most {fees.SERVICE_FEE_MAX_USDT} USDT worth{fee_bounds_in_reference(withdrawal)}."
        )
    return rule


def fee_bounds_in_reference(withdrawal: Withdrawal) -> str:
    """The service fee's bounds in the tenant's reference currency at the quote's price, where it is not USDT:
    " (about 1.00 to 30.01 USDC)"; "" for USDT or without that price. The rule itself stays in USDT."""
    rate = withdrawal.reference_price_usdt
    if withdrawal.reference_currency == "USDT" or not rate:
        return ""
    lowest, highest = (bound / rate for bound in (fees.SERVICE_FEE_MIN_USDT, fees.SERVICE_FEE_MAX_USDT))
    cent = Decimal("0.01")
    return (
        f" (about {lowest.quantize(cent, ROUND_HALF_UP):,} to {highest.quantize(cent, ROUND_HALF_UP):,} "
        f"{withdrawal.reference_currency})"
    )


def withdrawals_to_poll(*, stale_submit_seconds: int = 120) -> list[int]:
    """Ids the worker follows: processing at the exchange, unknown, or a submit that never came back."""
    stale = timezone.now() - timedelta(seconds=stale_submit_seconds)
    open_rows = Q(state__in=[Withdrawal.State.PROCESSING, Withdrawal.State.UNKNOWN]) | Q(
        state=Withdrawal.State.SUBMITTING, submit_started_at__lt=stale
    )
    return list(
        Withdrawal.objects.filter(open_rows).order_by("last_polled_at", "pk").values_list("pk", flat=True)[:500]
    )


STUCK_AFTER = timedelta(hours=1)  # open at the exchange this long without an end: a broker admin should look


def withdrawal_explanation(*, withdrawal: Withdrawal, now=None) -> str:
    """Why a withdrawal stands where it does, for the broker admin: a failure's reason, or how long one has been
    open at the exchange and when the portal last asked; "" when there is nothing to explain."""
    now = now or timezone.now()
    State = Withdrawal.State
    if withdrawal.state == State.FAILED:
        reason = withdrawal.last_error or "the exchange gave no reason"
        status = f" (exchange status {withdrawal.exchange_status})" if withdrawal.exchange_status else ""
        return f"Failed: {reason}{status}."
    if withdrawal.state not in Withdrawal.OPEN_AT_EXCHANGE:
        return ""
    since = withdrawal.submit_started_at or withdrawal.submitted_at or withdrawal.created_at
    polled = (
        f"last checked {withdrawal.last_polled_at:%Y-%m-%d %H:%M} UTC"
        if withdrawal.last_polled_at
        else "not checked yet"
    )
    stuck = "Stuck: " if now - since > STUCK_AFTER else ""
    waiting = f"{withdrawal.get_state_display()} since {since:%Y-%m-%d %H:%M} UTC, {polled}"
    last_error = f"; last answer: {withdrawal.last_error}" if withdrawal.last_error else ""
    return f"{stuck}{waiting}{last_error}."


def security_return_url_target(*, tenant, user) -> Withdrawal | None:
    """Where the exchange's security setup sends the user back: their newest withdrawal waiting for it."""
    waiting = (Withdrawal.State.STEPPED_UP, Withdrawal.State.FACTORS_REQUESTED)
    return Withdrawal.objects.filter(tenant=tenant, user=user, state__in=waiting).order_by("-updated_at").first()
