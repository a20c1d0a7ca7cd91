"""Writes of the connectors: completing an authorization, disconnecting. Each writes its audit event."""

from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.db import transaction
from django.utils import timezone

from broker_portal.audit import record_audit_event
from broker_portal.models import ExchangeCredential

from .base.api import ApiKeyRefused, ExchangeAPIError
from .base.http import ExchangeUnavailable, HostNotAllowed
from .base.oauth import ExchangeProvider, post_token_request, revoke_token
from .models import ExchangeConnection
from .selectors import exchange_api


class ConnectError(Exception):
    """A connect flow ended without a connection; the message is for the user."""

    def __init__(self, message: str, *, upstream: bool = False):
        super().__init__(message)
        self.upstream = upstream


def exchange_api_for(provider: ExchangeProvider):
    return exchange_api(ExchangeCredential.objects.get(pk=provider.app.settings["credential_id"]))


def connection_authorize(*, provider: ExchangeProvider, request, code: str, state: dict, permissions: list[str],
                         callback_params) -> ExchangeConnection:
    """Exchange the code for tokens, provision the Fast API key, then store it all encrypted.

    The HTTP calls come first and outside any transaction; the write is one transaction with its audit event."""
    adapter = provider.get_oauth2_adapter(request)
    app = provider.app
    token_request = {"grant_type": "authorization_code", "code": code,
                     "redirect_uri": adapter.get_callback_url(request, app), **adapter.token_request_extras()}
    if state.get("pkce_code_verifier"):
        token_request["code_verifier"] = state["pkce_code_verifier"]
    flow_data = state.get("data") or {}
    api = exchange_api_for(provider)
    existing = ExchangeConnection.objects.filter(tenant=request.tenant, user=request.user,
                                                 exchange=provider.id).first()
    try:
        token = post_token_request(adapter, app, adapter.access_token_url, token_request,
                                   headers=provider.token_headers(flow_data))
        granted = provider.granted_permissions(token, permissions)
        account_id = api.account_id(token.access_token)
        if existing is not None and existing.api_key:
            # Some exchanges allow one key per user and broker: the old one goes before a new one comes.
            api.delete_api_key(token.access_token, existing)
        api_key = api.create_api_key(token.access_token, granted, flow_data)
    except OAuth2Error as error:
        raise ConnectError(f"{provider.name} did not accept the authorization ({error}). Please connect again.")
    except ApiKeyRefused as error:
        raise ConnectError(str(error))
    except (ExchangeUnavailable, HostNotAllowed) as error:
        raise ConnectError(f"{provider.name} is not answering right now ({error}). Nothing was connected; "
                           f"please try again in a moment.", upstream=True)
    except ExchangeAPIError as error:
        raise ConnectError(f"{provider.name} refused a request while connecting: {error}", upstream=True)

    details = provider.connection_details(callback_params, token, flow_data)
    with transaction.atomic():
        connection, created = ExchangeConnection.objects.select_for_update().get_or_create(
            tenant=request.tenant, user=request.user, exchange=provider.id, exchange_account_id=account_id,
        )
        connection.status = ExchangeConnection.Status.ACTIVE
        connection.permissions = granted
        connection.access_token = token.access_token
        connection.refresh_token = token.refresh_token
        connection.access_expires_at = token.access_expires_at
        connection.refresh_expires_at = token.refresh_expires_at
        connection.last_refreshed_at = timezone.now()
        connection.last_error = ""
        connection.details = details
        connection.api_key = api_key.key if api_key else ""
        connection.api_secret = api_key.secret if api_key else ""
        connection.api_passphrase = api_key.passphrase if api_key else ""
        connection.api_key_id = api_key.key_id if api_key else ""
        connection.save()
        record_audit_event(tenant=request.tenant, action="connection.connected" if created else "connection.reconnected",
                           target=connection, request=request,
                           details={"exchange": provider.id, "permissions": granted, "api_key": bool(api_key)})
    return connection


def connection_disconnect(*, provider: ExchangeProvider, connection: ExchangeConnection, request) -> ExchangeConnection:
    """Delete the Fast API key and revoke the tokens where the exchange can, then wipe every secret.

    The exchange's side is best effort: an unreachable exchange must not keep secrets here."""
    remote = {"api_key_deleted": False, "tokens_revoked": False}
    api = exchange_api_for(provider)
    try:
        if connection.api_key and connection.access_token:
            remote["api_key_deleted"] = api.delete_api_key(connection.access_token, connection)
        adapter = provider.get_oauth2_adapter(request)
        remote["tokens_revoked"] = revoke_token(adapter, provider.app, connection.refresh_token or connection.access_token)
    except (ExchangeUnavailable, HostNotAllowed, ExchangeAPIError) as error:
        remote["error"] = str(error)
    with transaction.atomic():
        connection = ExchangeConnection.objects.select_for_update().get(pk=connection.pk)
        for secret in ("access_token", "refresh_token", "api_key", "api_secret", "api_passphrase"):
            setattr(connection, secret, "")
        connection.access_expires_at = connection.refresh_expires_at = None
        connection.status = ExchangeConnection.Status.REVOKED
        connection.last_error = ""
        connection.save()
        record_audit_event(tenant=connection.tenant, action="connection.disconnected", target=connection,
                           request=request, details={"exchange": connection.exchange, **remote})
    return connection
