"""Reads of the connectors: what the dashboard shows."""

from datetime import datetime
from decimal import Decimal

from allauth.socialaccount.providers import registry
from django.urls import NoReverseMatch, reverse

from broker_portal.models import Tenant

from .balances import REFERENCE_CURRENCY, UNREADABLE_SECRETS, balances_for_page
from .base.api import Balance
from .exchanges import EXCHANGES
from .models import ExchangeConnection, ExchangeCredential
from .refresh import credential_is_api_key
from .socialaccount import app_from_credential


def exchange_api(credential: ExchangeCredential):
    provider_class = registry.get_class(credential.exchange)
    if provider_class is None or not hasattr(provider_class, "api_class"):
        return None
    return provider_class.api_class(app_from_credential(credential).settings, client_id=credential.client_id,
                                    client_secret=credential.client_secret, broker_key=credential.broker_key)


def connection_capability(*, connection: ExchangeConnection, offered: bool, permissions: tuple[str, ...],
                          offer: str, purpose: str) -> str:
    """Why this connection cannot be used for ``offer`` (e.g. "deposit addresses"), or "" when it can: the exchange
    must offer it, the user must have granted ``permissions`` (all of them), the connection must be active with a
    readable API key. ``purpose`` ends the advice to reconnect ("to trade")."""
    from .exchanges import EXCHANGES

    exchange = EXCHANGES.get(connection.exchange)
    name = exchange.name if exchange else connection.exchange
    if exchange is None or not offered:
        return f"{name} offers no {offer} to this portal."
    missing = [p.label for p in exchange.permissions
               if p.code in permissions and p.code not in (connection.permissions or [])]
    if missing:
        labels = " and ".join(f"“{label}”" for label in missing)
        return f"You did not grant the {labels} permission. Reconnect {name} and tick it {purpose}."
    if connection.status != ExchangeConnection.Status.ACTIVE:
        return f"The {name} connection is not active ({connection.get_status_display().lower()})."
    # Read from the row's ciphertext where the secrets are deferred (the dashboard's rows): an unreadable key breaks
    # this connection alone, and no query is made per card.
    api_key = connection.__dict__["api_key"] if "api_key" in connection.__dict__ \
        else connection.secrets_as_stored.get("api_key", "")
    if api_key is None:
        return f"The keys stored for this {name} connection cannot be read; connect it again."
    if not api_key:
        return f"The {name} connection has no API key; reconnect it."
    return ""


def connection_balances(connection: ExchangeConnection) -> dict:
    """One connection's balances as the API gives them: its snapshot, read as the dashboard reads it (never
    waiting on the exchange longer than BALANCES_PAGE_WAIT_SECONDS), with its age."""
    if connection.unreadable_secrets:
        return {"balances": [], "error": UNREADABLE_SECRETS, "total_usdt": None, "as_of": None, "reading": False}
    card = card_balances(balances_for_page([connection.pk])[connection.pk])
    return {**card, "reading": card["filling"] or card["refreshing"]}


def valued_balances(balances: list, prices: dict[str, Decimal]) -> dict:
    """Each balance with its USDT value and its share of the largest, for the card's bar chart."""
    rows = []
    for balance in balances:
        price = prices.get(balance.currency)
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
    return not (getattr(provider_class, "refuses_second_connection_of_account", False) and connection is not None
                and connection.status == ExchangeConnection.Status.ACTIVE and connection.exchange_account_id)


def card_balances(snapshot: dict) -> dict:
    """What a card shows of a connection's snapshot: its balances in a consistent order (by currency) with their
    value in the reference currency, the card's total (None where an asset has no price: no misleading total),
    the snapshot's age and whether a newer read is under way."""
    prices = {code: Decimal(price) for code, price in (snapshot.get("prices") or {}).items()}
    rows = sorted(valued_balances([Balance(item["currency"], Decimal(item["total"]), Decimal(item["total"]))
                                   for item in snapshot.get("balances") or []], prices)["balances"],
                  key=lambda row: row["currency"])
    unpriced = [row["currency"] for row in rows if row["value_usdt"] is None]
    fetched_at = snapshot.get("fetched_at")
    return {"balances": rows, "unpriced": unpriced, "error": snapshot.get("error", ""),
            "total_usdt": None if unpriced else sum((row["value_usdt"] for row in rows), Decimal(0)),
            "priced_usdt": sum((row["value_usdt"] for row in rows if row["value_usdt"] is not None), Decimal(0)),
            "as_of": datetime.fromisoformat(fetched_at) if fetched_at else None,
            "filling": snapshot.get("filling", False) and not fetched_at, "refreshing": snapshot.get("filling", False)}


def dashboard_totals(cards: list[dict]) -> dict:
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
    return {"currency": REFERENCE_CURRENCY, "total": sum((row["value"] for row in per_exchange), Decimal(0)),
            "unpriced": sorted(unpriced), "per_exchange": per_exchange, "per_asset": assets,
            "incomplete": any(card.get("error") or card.get("filling") for card in cards if card.get("connection")
                              and card["connection"].status == ExchangeConnection.Status.ACTIVE)}


def dashboard_cards(*, tenant, user) -> list[dict]:
    offered = tenant_offered_exchanges(tenant=tenant)
    connections = {(c.exchange, c.server_slug): c
                   for c in ExchangeConnection.objects.filter(tenant=tenant, user=user).without_secrets()}
    cards = []
    for item in offered:
        server_slug = item["credential"].server_slug
        connection = connections.get((item["exchange"].id, server_slug))
        cards.append({**item, "connection": connection, "connect_url": connect_url(item["exchange"].id, server_slug),
                      "credential_is_api_key": credential_is_api_key(item["exchange"].id),
                      "reconnect_offered": reconnect_offered(item["exchange"].id, connection),
                      "name": display_name(item["exchange"], item["credential"]),
                      "logo_url": logo_url(item["credential"])})
    active = [card["connection"] for card in cards
              if card["connection"] is not None and card["connection"].status == ExchangeConnection.Status.ACTIVE]
    snapshots = balances_for_page([connection.pk for connection in active if not connection.unreadable_secrets])
    for card in cards:
        connection = card["connection"]
        if connection not in active:
            continue
        if connection.unreadable_secrets:
            card.update({"balances": [], "error": UNREADABLE_SECRETS})
            continue
        snapshot = snapshots[connection.pk]
        card.update(card_balances(snapshot))
        if snapshot.get("filled_now") and card["error"]:  # the read may have found the key revoked and marked it
            connection.refresh_from_db(fields=["status", "last_error"])
    return cards


def tenant_offered_exchanges(*, tenant: Tenant) -> list[dict]:
    """The exchanges this tenant has configured and enabled, with the permissions users may grant."""
    credentials = ExchangeCredential.objects.filter(tenant=tenant, is_enabled=True)
    offered = []
    for credential in credentials:
        exchange = EXCHANGES.get(credential.exchange)
        if exchange is None:
            continue
        allowed = set(credential.allowed_permissions)
        offered.append({
            "exchange": exchange,
            "credential": credential,
            "permissions": [p for p in exchange.permissions if p.code in allowed],
        })
    return sorted(offered, key=lambda item: item["exchange"].name)
