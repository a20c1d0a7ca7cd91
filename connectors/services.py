"""Writes of the connectors: starting and completing an authorization, disconnecting, each with its audit event;
and what shows a connection's balances, since it may read them at the exchange (and mark a revoked key)."""

from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.db import transaction
from django.utils import timezone

from broker_portal import crypto
from broker_portal.audit import record_audit_event
from broker_portal.errors import PortalError
from broker_portal.ratelimits import consume
from webhooks.events import connection_data
from webhooks.services import event_record

from .balances import UNREADABLE_SECRETS, balances_for_page, connection_balances_fill_soon
from .base.api import AccessTokenExpired, ApiKeyRefused, ExchangeAPIError
from .base.http import ExchangeUnavailable, HostNotAllowed
from .base.oauth import ExchangeProvider, post_token_request, revoke_token
from .clients import exchange_api
from .models import ExchangeConnection, ExchangeCredential
from .selectors import (
    CredentialNotOffered,
    card_balances,
    connect_url,
    credential_for,
    display_name,
    logo_url,
    reconnect_offered,
    switched_off_exchanges,
    tenant_offered_exchanges,
)
from .token_refresh import RefreshFailed, call_with_fresh_token, credential_is_api_key


class ConnectError(PortalError):
    """A connect flow ended without a connection; the message is for the user."""

    error_code, http_status = "not_connected", 400

    def __init__(self, message: str, *, upstream: bool = False):
        super().__init__(message, http_status=502 if upstream else None)
        self.upstream = upstream


def exchange_api_for(provider: ExchangeProvider, *, tenant):
    """The exchange's API client with the provider's credential, found only among the tenant's own."""
    try:
        credential = credential_for(
            tenant, provider.id, provider.app.settings.get("server_slug", ""), enabled_only=False
        )
    except CredentialNotOffered as error:
        raise ConnectError(str(error))
    if credential.pk != provider.app.settings["credential_id"]:
        raise ConnectError(f"{provider.name} is not offered here.")
    return exchange_api(credential)


def connect_error(provider: ExchangeProvider, error: Exception) -> ConnectError:
    """What the user is told when a call of the connect flow failed."""
    if isinstance(error, OAuth2Error):
        return ConnectError(f"{provider.name} did not accept the authorization ({error}). Please connect again.")
    if isinstance(error, ApiKeyRefused):
        return ConnectError(str(error))
    if isinstance(error, (ExchangeUnavailable, HostNotAllowed)):
        return ConnectError(
            f"{provider.name} is not answering right now ({error}). Nothing was connected; "
            f"please try again in a moment.",
            upstream=True,
        )
    return ConnectError(f"{provider.name} refused a request while connecting: {error}", upstream=True)


def connection_authorization_start(*, provider: ExchangeProvider, request, permissions: list[str]):
    """Start a connect: counted against the "exchange_connect" limit (RateLimited over it), audited, the flow's
    state stashed (bound to this session, user, tenant and exchange); returns the redirect to the exchange.
    The page and the API both start here."""
    consume(request, "exchange_connect")
    with transaction.atomic():
        record_audit_event(
            tenant=request.tenant,
            action="connection.authorization_started",
            request=request,
            details={"exchange": provider.id, "permissions": permissions},
        )
    return provider.redirect(
        request,
        "connect",
        data={
            "user_id": request.user.pk,
            "tenant_id": request.tenant.pk,
            "permissions": permissions,
            **provider.flow_data(),
        },
        scope=provider.scope_for(permissions),
        auth_params=provider.get_auth_params(),
    )


CONNECT_FAILURES = (OAuth2Error, ApiKeyRefused, ExchangeUnavailable, HostNotAllowed, ExchangeAPIError)


def connection_authorize(
    *, provider: ExchangeProvider, request, code: str, state: dict, permissions: list[str], callback_params
) -> ExchangeConnection:
    """Exchange the code for tokens, provision the Fast API key, then store it all encrypted.

    The HTTP calls come first and outside any transaction; the write is one transaction with its audit event.
    A reconnect never leaves the connection holding a key that no longer works: the new key is made and
    stored before the old one is deleted, except where the exchange allows one key per user (OKX); there,
    if the new key cannot be made after the old one went, the connection asks the user to connect again.
    A flow that fails after the tokens were issued revokes them where the exchange can."""
    adapter = provider.get_oauth2_adapter(request)
    app = provider.app
    token_request = {"grant_type": "authorization_code", "code": code, **adapter.token_request_extras()}
    if adapter.redirect_uri_in_token_request:
        token_request["redirect_uri"] = adapter.get_callback_url(request, app)
    if state.get("pkce_code_verifier"):
        token_request["code_verifier"] = state["pkce_code_verifier"]
    try:
        flow_data = {**(state.get("data") or {}), **provider.flow_data_from_callback(callback_params)}
    except HostNotAllowed as error:
        raise ConnectError(
            f"{provider.name} named a host for your account that this portal may not call: {error} "
            f"Nothing was connected."
        )
    api = exchange_api_for(provider, tenant=request.tenant)
    server = provider.app.settings.get("server_slug", "")
    existing = (
        ExchangeConnection.objects.filter(
            tenant=request.tenant, user=request.user, exchange=provider.id, server_slug=server
        )
        .without_secrets()
        .first()
    )
    # A key no configured key decrypts cannot be named to the exchange for deletion: the strongest we can do is
    # replace it here (an exchange with one key per user deletes whatever key there is anyway).
    replaced = existing if existing is not None and existing.secrets_readable and existing.api_key else None
    try:
        token = post_token_request(
            adapter,
            app,
            adapter.connection_url(adapter.access_token_url, flow_data),
            token_request,
            headers=provider.token_headers(flow_data),
        )
    except CONNECT_FAILURES as error:
        raise connect_error(provider, error)
    old_key_deleted = False
    try:
        granted = provider.granted_permissions(token, permissions)
        identity = api.account_identity(token.access_token, granted)
        account_id = identity.pop("account_id", "")
        if account_id and provider.refuses_second_connection_of_account:
            account_already_connected_refuse(
                provider=provider, request=request, account_id=account_id, identity=identity
            )
        if api.one_key_per_user:
            # The exchange allows one key per user and broker: whatever key there is goes before a new one comes
            # (OKX: "Always call delete-apikey before creating a new key", even where we know of none).
            # After it, the replaced connection's key is gone either way (deleted now, or already missing).
            api.delete_api_key(token.access_token, replaced, details=flow_data)
            old_key_deleted = replaced is not None
        api_key = api.create_api_key(token.access_token, granted, flow_data)
        if api_key is not None:
            granted = provider.key_permissions(api_key, granted)
    except AccountAlreadyConnected as error:
        revoke_unused_tokens(provider, request, token, flow_data)
        raise ConnectError(str(error))
    except CONNECT_FAILURES as error:
        revoke_unused_tokens(provider, request, token, flow_data)
        if old_key_deleted and replaced is not None:
            connection_lost_api_key(connection=replaced, request=request)
        if isinstance(error, ApiKeyRefused):
            api_key_refusal_record(provider=provider, request=request, error=error)
        raise connect_error(provider, error)

    details = provider.connection_details(callback_params, token, flow_data)
    with transaction.atomic():
        mine = ExchangeConnection.objects.filter(
            tenant=request.tenant, user=request.user, exchange=provider.id, server_slug=server
        )
        if account_id and not mine.filter(exchange_account_id=account_id).exists():
            # A connection made before the exchange told who the account is becomes that account's, so a
            # reconnect keeps one row (and the key it replaces is deleted) instead of adding a second.
            mine.filter(exchange_account_id="").update(exchange_account_id=account_id)
        # Every secret is assigned below, so none needs decrypting (an unreadable one is simply replaced).
        connection, created = (
            ExchangeConnection.objects.without_secrets()
            .select_for_update()
            .get_or_create(
                tenant=request.tenant,
                user=request.user,
                exchange=provider.id,
                server_slug=server,
                exchange_account_id=account_id,
            )
        )
        connection.status = ExchangeConnection.Status.ACTIVE
        connection.permissions = granted
        connection.access_token = token.access_token
        connection.refresh_token = token.refresh_token
        connection.access_expires_at = token.access_expires_at
        connection.refresh_expires_at = token.refresh_expires_at
        connection.last_refreshed_at = timezone.now()
        connection.last_error = ""
        connection.details = {**details, **identity, **(api_key.details if api_key else {})}
        connection.api_key = api_key.key if api_key else ""
        connection.api_secret = api_key.secret if api_key else ""
        connection.api_passphrase = api_key.passphrase if api_key else ""
        connection.api_key_id = api_key.key_id if api_key else ""
        connection.save()
        record_audit_event(
            tenant=request.tenant,
            action="connection.connected" if created else "connection.reconnected",
            target=connection,
            request=request,
            details={"exchange": provider.id, "permissions": granted, "api_key": bool(api_key)},
        )
        # Connected again in place (the same row): to a broker, the connection is repaired.
        event_record(
            tenant=request.tenant,
            type="connection.connected" if created else "connection.repaired",
            payload=connection_data(connection, permissions=granted),
        )
        connection_balances_fill_soon(connection_id=connection.pk)  # the dashboard it lands on finds them read
    if replaced is not None and not api.one_key_per_user and (not api_key or api_key.key != replaced.api_key):
        previous_api_key_delete(
            api=api, provider=provider, access_token=token.access_token, previous=replaced, request=request
        )
    return connection


class AccountAlreadyConnected(Exception):
    pass


def account_already_connected_refuse(*, provider: ExchangeProvider, request, account_id: str, identity: dict) -> None:
    """Raise AccountAlreadyConnected where the user already has a working connection of this very account here:
    a second authorization would only hold a second set of tokens for it. A connection that needs reconnecting
    (or was disconnected) is taken over instead."""
    if ExchangeConnection.objects.filter(
        tenant=request.tenant,
        user=request.user,
        exchange=provider.id,
        server_slug=provider.app.settings.get("server_slug", ""),
        exchange_account_id=account_id,
        status=ExchangeConnection.Status.ACTIVE,
    ).exists():
        who = identity.get("email") or account_id
        raise AccountAlreadyConnected(
            f"Your {provider.name} account {who} is already connected here. Nothing "
            f"was changed; disconnect it first to connect it again."
        )


def api_key_refusal_record(*, provider: ExchangeProvider, request, error: ApiKeyRefused) -> None:
    """The exchange would not make the key: recorded for the broker's admins, with who can fix it."""
    with transaction.atomic():
        record_audit_event(
            tenant=request.tenant,
            action="connection.api_key_refused",
            request=request,
            details={
                "exchange": provider.id,
                "error_code": error.code,
                "audience": error.audience,
                "message": str(error)[:500],
            },
        )


def revoke_unused_tokens(provider: ExchangeProvider, request, token, flow_data: dict) -> None:
    """Best effort: tokens of a flow that stored nothing must not stay valid at the exchange."""
    try:
        revoke_token(
            provider.get_oauth2_adapter(request),
            provider.app,
            token.refresh_token or token.access_token,
            flow_data,
            access_token=token.access_token,
        )
    except (ExchangeUnavailable, HostNotAllowed):
        pass


def connection_lost_api_key(*, connection: ExchangeConnection, request) -> None:
    """The connection's key was deleted at the exchange and no new one could be made: wipe the dead key and
    ask the user to connect again, rather than keep an active connection whose calls all fail."""
    with transaction.atomic():
        connection = ExchangeConnection.objects.select_for_update().get(pk=connection.pk)
        for secret in ("api_key", "api_secret", "api_passphrase", "api_key_id"):
            setattr(connection, secret, "")
        connection.status = ExchangeConnection.Status.NEEDS_REAUTHORIZATION
        connection.last_error = f"{connection.get_exchange_display()} needs you to connect again to make a new API key."
        connection.save()
        record_audit_event(
            tenant=connection.tenant,
            action="connection.api_key_lost",
            target=connection,
            request=request,
            details={"exchange": connection.exchange},
        )
        event_record(
            tenant=connection.tenant_id,
            type="connection.needs_reauthorization",
            payload=connection_data(connection, reason="api key lost"),
        )


def previous_api_key_delete(
    *, api, provider: ExchangeProvider, access_token: str, previous: ExchangeConnection, request
) -> None:
    """After the new key is stored, delete the one it replaced (best effort, recorded either way)."""
    try:
        deleted = api.delete_api_key(access_token, previous)
        error = ""
    except (ExchangeUnavailable, HostNotAllowed, ExchangeAPIError) as problem:
        deleted, error = False, str(problem)
    with transaction.atomic():
        record_audit_event(
            tenant=request.tenant,
            action="connection.previous_api_key_deleted",
            target=previous,
            request=request,
            details={"exchange": provider.id, "deleted": deleted, **({"error": error} if error else {})},
        )


def tokens_revoke(*, provider: ExchangeProvider, request, api, connection: ExchangeConnection) -> bool:
    """Revoke the connection's tokens where the exchange can; True only if its API confirms them dead
    (``revocation_confirmed``: an exchange whose revocation answers 200 whatever happened checks)."""
    answered = revoke_token(
        provider.get_oauth2_adapter(request),
        provider.app,
        connection.refresh_token or connection.access_token,
        connection.details,
        access_token=connection.access_token,
    )
    return api.revocation_confirmed(connection, answered) if api is not None else answered


def connection_disconnect(*, provider: ExchangeProvider, connection: ExchangeConnection, request) -> ExchangeConnection:
    """Delete the Fast API key and revoke the tokens where the exchange can, then wipe every secret.

    The exchange's side is best effort: an unreachable exchange must not keep secrets here. An access token
    that has run out is refreshed once, single-flight, so the key is still deleted; the revocation then ends the
    family the refresh continued. Where the credential is the API key (OKX), the access token has no refresh and
    deletes the key only while it lasts: after that the key stays at the exchange, the audit says so and
    ``connection.remote_cleanup`` carries the exchange's hint on removing it there."""
    remote: dict[str, bool | str] = {"api_key_deleted": False, "tokens_revoked": False}
    hint = ""
    api = None
    if connection.unreadable_secrets:
        # Nothing stored can be sent to the exchange: what remains there is the user's to remove (the audit says so).
        remote["error"] = f"stored secrets unreadable: {', '.join(connection.unreadable_secrets)}"
        return connection_secrets_wipe(connection=connection, request=request, remote=remote, hint=hint)
    try:
        api = exchange_api_for(provider, tenant=connection.tenant)
        if connection.api_key and api.credential_is_api_key:
            remote["api_key_deleted"], remote["api_key_left"] = api_key_delete_while_token_lasts(api, connection)
            hint = api.api_key_removal_hint if remote["api_key_left"] else ""
        elif connection.api_key and connection.access_token:
            remote["api_key_deleted"] = call_with_fresh_token(
                connection=connection, call=lambda fresh: api.delete_api_key(fresh.access_token, fresh)
            )
    except (ConnectError, ExchangeUnavailable, HostNotAllowed, ExchangeAPIError, RefreshFailed) as error:
        remote["error"] = str(error)
    try:  # whether or not the key could be deleted, the tokens can still be revoked
        remote["tokens_revoked"] = call_with_fresh_token(
            connection=connection,
            call=lambda fresh: tokens_revoke(provider=provider, request=request, api=api, connection=fresh),
        )
    except (ExchangeUnavailable, HostNotAllowed, ExchangeAPIError, RefreshFailed) as error:
        remote.setdefault("error", str(error))
    return connection_secrets_wipe(connection=connection, request=request, remote=remote, hint=hint)


def connection_secrets_wipe(*, connection: ExchangeConnection, request, remote: dict, hint: str) -> ExchangeConnection:
    """The local half of a disconnect: every secret erased (none decrypted first), the outcome audited."""
    with transaction.atomic():
        connection = ExchangeConnection.objects.without_secrets().select_for_update().get(pk=connection.pk)
        for secret in ("access_token", "refresh_token", "api_key", "api_secret", "api_passphrase", "api_key_id"):
            setattr(connection, secret, "")
        connection.access_expires_at = connection.refresh_expires_at = None
        connection.status = ExchangeConnection.Status.REVOKED
        connection.last_error = ""
        # What the dashboard's card says happened at the exchange (a reconnect replaces the details).
        connection.details = {
            **connection.details,
            "disconnected": {
                "api_key_deleted": bool(remote.get("api_key_deleted")),
                "api_key_left": bool(remote.get("api_key_left")),
                "tokens_revoked": bool(remote.get("tokens_revoked")),
                "hint": hint,
            },
        }
        connection.save()
        record_audit_event(
            tenant=connection.tenant,
            action="connection.disconnected",
            target=connection,
            request=request,
            details={"exchange": connection.exchange, **remote},
        )
        event_record(tenant=connection.tenant_id, type="connection.disconnected", payload=connection_data(connection))
    connection.remote_cleanup = {**remote, "hint": hint}
    return connection


def api_key_delete_while_token_lasts(api, connection: ExchangeConnection) -> tuple[bool, bool]:
    """(deleted, left at the exchange) for a key whose access token cannot be renewed: deleted with the token while
    it lasts (59506, no key there, is neither); after that nothing is sent and the key is left."""
    if (
        not connection.access_token
        or not connection.access_expires_at
        or connection.access_expires_at <= timezone.now()
    ):
        return False, True
    try:
        deleted = api.delete_api_key(connection.access_token, connection)
    except AccessTokenExpired:
        return False, True
    return deleted, False


@transaction.atomic
def credential_save(
    *,
    credential: ExchangeCredential,
    changed_fields: list[str],
    new_client_secret: str = "",
    new_broker_key: str = "",
    request=None,
) -> ExchangeCredential:
    """Create or update a tenant's exchange client; secrets are replaced only when a new one is given."""
    created = credential.pk is None
    changed = set(changed_fields)
    if new_client_secret:
        credential.client_secret = new_client_secret
        changed.add("client_secret")
    if new_broker_key:
        credential.broker_key = new_broker_key
        changed.add("broker_key")
    credential.save()
    record_audit_event(
        tenant=credential.tenant,
        action="credential.created" if created else "credential.updated",
        target=credential,
        request=request,
        details={"exchange": credential.exchange, "changed": sorted(changed)},
    )
    if "extra_hosts" in changed:
        # An exception to the exchange's known hosts (connectors/base/hosts.py), named in full for the record.
        record_audit_event(
            tenant=credential.tenant,
            action="credential.extra_hosts_allowed",
            target=credential,
            request=request,
            details={"exchange": credential.exchange, "extra_hosts": list(credential.extra_hosts)},
        )
    return credential


@transaction.atomic
def credential_generate_rsa_key_pair(*, credential: ExchangeCredential, request=None) -> ExchangeCredential:
    """A fresh key pair whose public half goes on the exchange's application form."""
    credential.rsa_private_key, credential.rsa_public_key = crypto.generate_rsa_key_pair()
    credential.save(update_fields=["rsa_private_key", "rsa_public_key", "updated_at"])
    record_audit_event(
        tenant=credential.tenant,
        action="credential.rsa_key_generated",
        target=credential,
        request=request,
        details={"exchange": credential.exchange},
    )
    return credential


def credential_decrypt_issued_secret(*, credential: ExchangeCredential, encrypted_b64: str) -> str:
    """The client secret the exchange issued, base64 and RSA-encrypted to our public key."""
    if not credential.rsa_private_key:
        raise crypto.SecretDecryptionError("Generate a key pair and register its public key first.")
    return crypto.decrypt_rsa_secret(private_pem=credential.rsa_private_key, encrypted_b64=encrypted_b64)


def connection_balances(connection: ExchangeConnection) -> dict:
    """One connection's balances as the API gives them: its snapshot, read as the dashboard reads it (never
    waiting on the exchange longer than BALANCES_PAGE_WAIT_SECONDS), with its age."""
    if connection.unreadable_secrets:
        return {"balances": [], "error": UNREADABLE_SECRETS, "total_usdt": None, "as_of": None, "reading": False}
    card = card_balances(balances_for_page([connection.pk])[connection.pk])
    return {**card, "reading": card["filling"] or card["refreshing"]}


def dashboard_cards(*, tenant, user) -> list[dict]:
    offered = tenant_offered_exchanges(tenant=tenant)
    connections = {
        (c.exchange, c.server_slug): c
        for c in ExchangeConnection.objects.filter(tenant=tenant, user=user).without_secrets()
    }
    shown = {(item["exchange"].id, item["credential"].server_slug) for item in offered}
    offered += switched_off_exchanges(
        tenant=tenant, connections={key: connection for key, connection in connections.items() if key not in shown}
    )
    cards = []
    for item in offered:
        server_slug = item["credential"].server_slug
        connection = connections.get((item["exchange"].id, server_slug))
        cards.append(
            {
                **item,
                "connection": connection,
                "connect_url": "" if item.get("switched_off") else connect_url(item["exchange"].id, server_slug),
                "credential_is_api_key": credential_is_api_key(item["exchange"].id),
                "reconnect_offered": reconnect_offered(item["exchange"].id, connection),
                "name": display_name(item["exchange"], item["credential"]),
                "logo_url": logo_url(item["credential"]),
            }
        )
    active = [
        card["connection"]
        for card in cards
        if card["connection"] is not None and card["connection"].status == ExchangeConnection.Status.ACTIVE
    ]
    snapshots = balances_for_page([connection.pk for connection in active if not connection.unreadable_secrets])
    for card in cards:
        connection = card["connection"]
        if connection not in active:
            continue
        if connection.unreadable_secrets:
            card.update({"balances": [], "error": UNREADABLE_SECRETS})
            continue
        snapshot = snapshots[connection.pk]
        card.update(card_balances(snapshot, tenant.reference_currency))
        if snapshot.get("filled_now") and card["error"]:  # the read may have found the key revoked and marked it
            connection.refresh_from_db(fields=["status", "last_error"])
    return cards
