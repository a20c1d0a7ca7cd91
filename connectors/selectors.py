"""Reads of the connectors: what the dashboard shows."""

from decimal import Decimal

from allauth.socialaccount.providers import registry
from django.core.cache import cache
from django.urls import NoReverseMatch, reverse

from broker_portal.models import ExchangeCredential
from broker_portal.selectors import tenant_offered_exchanges

from .base.api import ExchangeAPIError
from .base.http import ExchangeUnavailable
from .models import ExchangeConnection
from .refresh import RefreshFailed, call_with_fresh_token, credential_is_api_key
from .socialaccount import app_from_credential

BALANCE_CACHE_SECONDS = 60
UNREADABLE_SECRETS = "The keys stored for this connection cannot be read, so it cannot be used; connect it again."


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


def connection_balances(connection: ExchangeConnection, credential: ExchangeCredential) -> dict:
    """Balances with their USDT value, cached briefly; an unreachable exchange shows as an error, not as
    an empty account."""
    cache_key = f"connection-balances:{connection.pk}:{connection.updated_at.timestamp()}"
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    if connection.unreadable_secrets:
        return {"balances": [], "error": UNREADABLE_SECRETS}
    api = exchange_api(credential)
    if api is None or not connection.api_key:
        return {"balances": [], "error": ""}
    try:
        # An expired token (Peatio's key pair is its token) is refreshed once, single-flight, and the call retried.
        balances = [b for b in call_with_fresh_token(connection=connection, call=api.balances) if b.total]
        prices = {"USDT": Decimal(1), **api.usdt_prices([b.currency for b in balances if b.currency != "USDT"])}
    except (ExchangeUnavailable, ExchangeAPIError, RefreshFailed) as error:
        return {"balances": [], "error": f"Balances are unavailable right now ({error})."}
    result = valued_balances(balances, prices)
    cache.set(cache_key, result, BALANCE_CACHE_SECONDS)
    return result


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


def dashboard_cards(*, tenant, user) -> list[dict]:
    offered = tenant_offered_exchanges(tenant=tenant)
    connections = {(c.exchange, c.server_slug): c
                   for c in ExchangeConnection.objects.filter(tenant=tenant, user=user).without_secrets()}
    cards = []
    for item in offered:
        server_slug = item["credential"].server_slug
        connection = connections.get((item["exchange"].id, server_slug))
        card = {**item, "connection": connection, "connect_url": connect_url(item["exchange"].id, server_slug),
                "credential_is_api_key": credential_is_api_key(item["exchange"].id),
                "reconnect_offered": reconnect_offered(item["exchange"].id, connection),
                "name": display_name(item["exchange"], item["credential"]), "logo_url": logo_url(item["credential"])}
        if connection is not None and connection.status == ExchangeConnection.Status.ACTIVE:
            card.update(connection_balances(connection, item["credential"]))
            if card["error"]:  # the call may have found the key revoked and marked the connection
                connection.refresh_from_db(fields=["status", "last_error"])
        cards.append(card)
    return cards
