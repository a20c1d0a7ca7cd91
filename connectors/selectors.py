"""Reads of the connectors: the tenant's credential for an exchange, what the dashboard shows of its cards (the
balances themselves are read at the exchange by services.dashboard_cards), and the connections' health summary."""

import secrets
from datetime import datetime
from decimal import Decimal

from allauth.socialaccount.providers import registry
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from broker_portal.errors import PortalError
from broker_portal.models import Tenant

from .balances import REFERENCE_CURRENCY
from .base.api import Balance
from .exchanges import EXCHANGES
from .models import ExchangeConnection, ExchangeCredential


class CredentialNotOffered(PortalError):
    """The tenant has no usable credential for the exchange (never configured, or deleted since)."""

    error_code, http_status = "not_offered", 404


class CredentialDisabled(PortalError):
    """The broker switched the exchange off: nothing new starts with it; what exists can still be undone."""

    error_code, http_status = "exchange_switched_off", 403


def exchange_name(exchange_id: str) -> str:
    from .exchanges import EXCHANGES

    exchange = EXCHANGES.get(exchange_id)
    return exchange.name if exchange else exchange_id


def credential_for(tenant, exchange: str, server_slug: str = "", *, enabled_only: bool) -> ExchangeCredential:
    """The tenant's credential for ``exchange`` (``server_slug``: which of its servers); ``tenant`` or its id.

    The one look-up of a credential, with its rules: none (never configured, deleted, another tenant's, or settings
    that are not an object) is CredentialNotOffered, a clear 404 on a page and in the API. ``enabled_only`` is for
    starting something new (a connect): a credential the broker switched off refuses it with CredentialDisabled.
    Without it, what a connection already made does (disconnect, refresh, revoke, read) still works with a
    switched-off credential, so a user can always take their access back."""
    credential = ExchangeCredential.objects.filter(
        tenant_id=getattr(tenant, "pk", tenant), exchange=exchange, server_slug=server_slug or ""
    ).first()
    if credential is None or not isinstance(credential.settings, dict):
        raise CredentialNotOffered(f"{exchange_name(exchange)} is not offered here.")
    if enabled_only and not credential.is_enabled:
        raise CredentialDisabled(
            f"{exchange_name(exchange)} is switched off by your broker, so it cannot be "
            f"connected now. A connection you already have can still be disconnected."
        )
    return credential


def connection_credential(connection: ExchangeConnection) -> ExchangeCredential:
    """The credential a connection was made with, enabled or not (CredentialNotOffered once it is deleted)."""
    return credential_for(connection.tenant_id, connection.exchange, connection.server_slug, enabled_only=False)


def connection_capability(
    *, connection: ExchangeConnection, offered: bool, permissions: tuple[str, ...], offer: str, purpose: str
) -> str:
    """Why this connection cannot be used for ``offer`` (e.g. "deposit addresses"), or "" when it can: the exchange
    must offer it, the user must have granted ``permissions`` (all of them), the connection must be active with a
    readable API key. ``purpose`` ends the advice to reconnect ("to trade")."""
    from .exchanges import EXCHANGES

    exchange = EXCHANGES.get(connection.exchange)
    name = exchange.name if exchange else connection.exchange
    if exchange is None or not offered:
        return f"{name} offers no {offer} to this portal."
    missing = [
        p.label for p in exchange.permissions if p.code in permissions and p.code not in (connection.permissions or [])
    ]
    if missing:
        labels = " and ".join(f"“{label}”" for label in missing)
        return f"You did not grant the {labels} permission. Reconnect {name} and tick it {purpose}."
    if connection.status != ExchangeConnection.Status.ACTIVE:
        return f"The {name} connection is not active ({connection.get_status_display().lower()})."
    # Read from the row's ciphertext where the secrets are deferred (the dashboard's rows): an unreadable key breaks
    # this connection alone, and no query is made per card.
    api_key = (
        connection.__dict__["api_key"]
        if "api_key" in connection.__dict__
        else connection.secrets_as_stored.get("api_key", "")
    )
    if api_key is None:
        return f"The keys stored for this {name} connection cannot be read; connect it again."
    if not api_key:
        return f"The {name} connection has no API key; reconnect it."
    return ""


def price_in(currency: str, code: str, prices: dict[str, Decimal]) -> Decimal | None:
    """What one ``code`` is worth in ``currency`` at the exchange's USDT ``prices`` (None without a price): the
    USDT price of ``code`` over that of ``currency``, the reference currency being priced in USDT as well."""
    if code == currency:
        return Decimal(1)
    price, rate = prices.get(code), Decimal(1) if currency == REFERENCE_CURRENCY else prices.get(currency)
    return price / rate if price is not None and rate else None


def valued_balances(balances: list, prices: dict[str, Decimal], currency: str = REFERENCE_CURRENCY) -> dict:
    """Each balance with its value in ``currency`` (``value_usdt``: in USDT unless another is given) and its share
    of the largest, for the card's bar chart."""
    rows = []
    for balance in balances:
        price = price_in(currency, balance.currency, prices)
        value = (balance.total * price).quantize(Decimal("0.01")) if price is not None else None
        rows.append({"currency": balance.currency, "total": balance.total, "value_usdt": value})
    largest = max((row["value_usdt"] for row in rows if row["value_usdt"]), default=Decimal(0))
    for row in rows:
        row["bar"] = int(row["value_usdt"] / largest * 100) if row["value_usdt"] and largest else 0
    valued = [row["value_usdt"] for row in rows if row["value_usdt"] is not None]
    return {"balances": rows, "total_usdt": sum(valued, Decimal(0)) if valued else None, "error": ""}


def connect_url(exchange_id: str, server_slug: str = "") -> str:
    try:
        if server_slug:
            return reverse(f"{exchange_id}_server_connect", kwargs={"server": server_slug})
        return reverse(f"{exchange_id}_connect")
    except NoReverseMatch:  # no connector package for this exchange is installed (or it has one server only)
        return ""


def display_name(exchange, credential: ExchangeCredential) -> str:
    """What members see the exchange called: the credential's display name where the broker set one (the generic
    OAuth 2.0 provider's admin field), else the exchange's name."""
    settings = credential.settings if isinstance(credential.settings, dict) else {}
    name = settings.get("display_name")
    return name if isinstance(name, str) and name else exchange.name


def logo_url(credential: ExchangeCredential) -> str:
    return reverse("credential_logo", kwargs={"credential_id": credential.pk}) if credential.logo else ""


def reconnect_offered(exchange_id: str, connection: ExchangeConnection | None) -> bool:
    """Whether the card offers to connect again: not for a working connection that the exchange's provider
    would refuse to connect a second time (services.account_already_connected_refuse)."""
    provider_class = registry.get_class(exchange_id)
    return not (
        getattr(provider_class, "refuses_second_connection_of_account", False)
        and connection is not None
        and connection.status == ExchangeConnection.Status.ACTIVE
        and connection.exchange_account_id
    )


def card_balances(snapshot: dict, currency: str = REFERENCE_CURRENCY) -> dict:
    """What a card shows of a connection's snapshot: its balances in a consistent order (by currency) with their
    value in ``currency`` (the tenant's reference currency; the API's figures stay in USDT), the card's total
    (None where an asset has no price: no misleading total), the snapshot's age and whether a newer read is under
    way."""
    prices = {code: Decimal(price) for code, price in (snapshot.get("prices") or {}).items()}
    rows = sorted(
        valued_balances(
            [
                Balance(item["currency"], Decimal(item["total"]), Decimal(item["total"]))
                for item in snapshot.get("balances") or []
            ],
            prices,
            currency,
        )["balances"],
        key=lambda row: row["currency"],
    )
    unpriced = [row["currency"] for row in rows if row["value_usdt"] is None]
    fetched_at = snapshot.get("fetched_at")
    return {
        "balances": rows,
        "unpriced": unpriced,
        "error": snapshot.get("error", ""),
        "total_usdt": None if unpriced else sum((row["value_usdt"] for row in rows), Decimal(0)),
        "priced_usdt": sum((row["value_usdt"] for row in rows if row["value_usdt"] is not None), Decimal(0)),
        "as_of": datetime.fromisoformat(fetched_at) if fetched_at else None,
        "filling": snapshot.get("filling", False) and not fetched_at,
        "refreshing": snapshot.get("filling", False),
    }


def dashboard_totals(cards: list[dict], currency: str = REFERENCE_CURRENCY) -> dict:
    """The tenant's reference-currency total across the user's connections, and the chart's rows: value per
    exchange and per asset, each with its share of the largest (the bars' lengths)."""
    shown = [card for card in cards if card.get("balances")]
    per_exchange = [{"label": card["name"], "value": card["priced_usdt"]} for card in shown]
    per_asset: dict[str, Decimal] = {}
    unpriced: set[str] = set()
    for card in shown:
        for row in card["balances"]:
            if row["value_usdt"] is None:
                unpriced.add(row["currency"])
            else:
                per_asset[row["currency"]] = per_asset.get(row["currency"], Decimal(0)) + row["value_usdt"]
    assets: list[dict] = [{"label": code, "value": value} for code, value in sorted(per_asset.items())]
    for rows in (per_exchange, assets):
        largest = max((row["value"] for row in rows), default=Decimal(0))
        for row in rows:
            row["bar"] = round(row["value"] / largest * 100, 1) if largest else 0
    return {
        "currency": currency,
        "total": sum((row["value"] for row in per_exchange), Decimal(0)),
        "unpriced": sorted(unpriced),
        "per_exchange": per_exchange,
        "per_asset": assets,
        "incomplete": any(
            card.get("error") or card.get("filling")
            for card in cards
            if card.get("connection") and card["connection"].status == ExchangeConnection.Status.ACTIVE
        ),
    }


def tenant_offered_exchanges(*, tenant: Tenant) -> list[dict]:
    """The exchanges this tenant has configured and enabled, with the permissions users may grant."""
    credentials = ExchangeCredential.objects.filter(tenant=tenant, is_enabled=True)
    offered = []
    for credential in credentials:
        exchange = EXCHANGES.get(credential.exchange)
        if exchange is None:
            continue
        allowed = set(credential.allowed_permissions)
        offered.append(
            {
                "exchange": exchange,
                "credential": credential,
                "permissions": [p for p in exchange.permissions if p.code in allowed],
            }
        )
    return sorted(offered, key=lambda item: item["exchange"].name)


def switched_off_exchanges(*, tenant, connections: dict) -> list[dict]:
    """The exchanges the broker switched off where the user still holds a connection (``connections``: those not
    shown among the offered): shown without a way to connect, so that the user can still disconnect."""
    from .exchanges import EXCHANGES

    held = {key for key, connection in connections.items() if connection.status != ExchangeConnection.Status.REVOKED}
    if not held:
        return []
    return [
        {"exchange": EXCHANGES[credential.exchange], "credential": credential, "permissions": [], "switched_off": True}
        for credential in ExchangeCredential.objects.filter(tenant=tenant, is_enabled=False).order_by("exchange")
        if (credential.exchange, credential.server_slug) in held and credential.exchange in EXCHANGES
    ]


# The connections changelist's health summary. Counting a broker's 50,000 connections by status reads them all, so
# the counts are kept per tenant in the cache with the time they were taken, and shown with their age: a page
# younger than CONNECTION_HEALTH_COUNTS_SECONDS counts nothing. One request at a time counts a tenant (a cache
# lock); the others meanwhile show the previous counts with their age, or none yet. The failing connections and the
# lapse-warned count are read on every view, each through a partial index holding only its rows: a healthy
# connection is in neither, so the sweep's claims on it write neither.
HEALTH_COUNT_LOCK_SECONDS = 30  # outlasts a count; a request that died holding the lock leaves it to expire
FAILING_SHOWN = 20


def health_counts_key(tenant_id: int) -> str:
    return f"portal:connection-health:{tenant_id}"


def failing_connections(*, tenant: Tenant) -> QuerySet[ExchangeConnection]:
    """The tenant's connections whose refreshes fail, by their next attempt (index connection_failing)."""
    return (
        ExchangeConnection.objects.filter(tenant=tenant)
        .filter(Q(refresh_failures__gt=0) | Q(status=ExchangeConnection.Status.ERROR))
        .order_by(F("next_refresh_attempt_at").asc(nulls_last=True), "id")
    )


def lapse_warned_connections(*, tenant: Tenant) -> QuerySet[ExchangeConnection]:
    """The tenant's active connections whose users were told their refresh token lapses (index
    connection_lapse_warned)."""
    return ExchangeConnection.objects.filter(
        tenant=tenant, status=ExchangeConnection.Status.ACTIVE, refresh_lapse_warned_at__isnull=False
    )


def connection_status_counts(*, tenant: Tenant, now: datetime) -> dict | None:
    """The tenant's connections counted by status, and when: ``{"counts": {status: n}, "counted_at": iso}``; counted
    again where the cached counts are older than CONNECTION_HEALTH_COUNTS_SECONDS. None where none were taken yet
    and another request is taking them."""
    key = health_counts_key(tenant.pk)
    counted = cache.get(key)
    if counted is not None and counts_age(counted, now) < settings.CONNECTION_HEALTH_COUNTS_SECONDS:
        return counted
    lock, token = f"{key}:counting", secrets.token_hex(8)
    if not cache.add(lock, token, HEALTH_COUNT_LOCK_SECONDS):
        return counted
    try:
        rows = ExchangeConnection.objects.filter(tenant=tenant).order_by().values("status").annotate(count=Count("id"))
        counted = {"counts": {row["status"]: row["count"] for row in rows}, "counted_at": now.isoformat()}
        # Kept past their freshness, so that while one request counts again the others show these, with their age.
        cache.set(key, counted, max(10 * settings.CONNECTION_HEALTH_COUNTS_SECONDS, 600))
    finally:
        if cache.get(lock) == token:
            cache.delete(lock)
    return counted


def counts_age(counted: dict, now: datetime) -> float:
    # Never below zero: another web process's clock may be a little ahead of this one's.
    return max((now - datetime.fromisoformat(counted["counted_at"])).total_seconds(), 0.0)


def connection_health(*, tenant: Tenant, now: datetime | None = None) -> dict:
    """The tenant's connection health as the connections changelist shows it: its connections by status (as
    counted ``counted_seconds_ago``; a count of None while they are being counted), the active ones whose refresh
    token is lapsing, and the first FAILING_SHOWN failing ones with their last error and next attempt (as of now)."""
    now = now or timezone.now()
    counted = connection_status_counts(tenant=tenant, now=now)
    counts = counted["counts"] if counted is not None else {}
    return {
        "status_rows": [
            {"status": value, "label": label, "count": counts.get(value, 0) if counted is not None else None}
            for value, label in ExchangeConnection.Status.choices
        ],
        "counted_at": datetime.fromisoformat(counted["counted_at"]) if counted is not None else None,
        "counted_seconds_ago": int(counts_age(counted, now)) if counted is not None else None,
        "failing": list(failing_connections(tenant=tenant).select_related("user")[:FAILING_SHOWN]),
        "lapsing": lapse_warned_connections(tenant=tenant).count(),
    }
