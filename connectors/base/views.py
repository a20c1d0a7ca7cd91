"""The two pages of a connect flow: choose permissions and leave for the exchange; come back."""

import functools
import re

from allauth.socialaccount.internal import statekit
from allauth.socialaccount.providers import registry
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.handlers.exception import response_for_exception
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from broker_portal.errors import PortalError, portal_error_response
from broker_portal.ratelimits import RateLimited, rate_limited, too_many_requests
from broker_portal.tenancy import get_for_tenant
from connectors import services
from connectors.base.oauth import ExchangeProvider
from connectors.models import ExchangeConnection
from connectors.selectors import CredentialNotOffered, connect_url, credential_for, exchange_name
from connectors.socialaccount import app_from_credential

ERROR_MESSAGES = {
    "access_denied": "You declined the authorization at the exchange. Nothing was connected.",
}


def issuer_mismatch(settings: dict, params) -> bool:
    """RFC 9207 §2.4: where the issuer is known, a response naming another is a mix-up; one naming none is
    refused where the server says it always names itself (``authorization_response_iss_parameter_supported``)."""
    issuer = settings.get("issuer")
    if not issuer:
        return False
    if "iss" in params:
        return params["iss"] != issuer
    return bool(settings.get("authorization_response_iss_parameter_supported"))


# RFC 6749 §4.1.2.1: error_description is printable ASCII except " and \; anything else is dropped.
DESCRIPTION_CHARACTERS = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
DESCRIPTION_MAX_LENGTH = 300


def authorization_error_message(provider: ExchangeProvider, params) -> str:
    """What the user is told of a refused authorization: ours for a known error, else the server's own words
    (error and error_description, shortened; the template escapes them)."""
    error = params.get("error", "")
    if error in ERROR_MESSAGES:
        return ERROR_MESSAGES[error]
    error = DESCRIPTION_CHARACTERS.sub("", error)[:60]
    description = DESCRIPTION_CHARACTERS.sub("", params.get("error_description", ""))[:DESCRIPTION_MAX_LENGTH]
    said = f"{error or 'no code'}{': ' + description if description else ''}"
    return f"{provider.name} did not authorize the connection ({said})."


def provider_for(request, exchange_id: str, server: str = "", *, enabled_only: bool = True) -> ExchangeProvider:
    """The exchange's provider with this tenant's credential for it (``server``: which of several), as allauth's
    adapter would build it from our apps (socialaccount.TenantSocialAccountAdapter). ``enabled_only``: for a
    connect; a disconnect passes False (selectors.credential_for holds the rules)."""
    credential = credential_for(request.tenant, exchange_id, server, enabled_only=enabled_only)
    provider_class = registry.get_class(exchange_id)
    if provider_class is None:
        raise CredentialNotOffered(f"{exchange_name(exchange_id)} is not offered here.")
    return provider_class(request, app=app_from_credential(credential))


class PermissionForm(forms.Form):
    permissions = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        required=True,
        error_messages={"required": "Choose at least one permission."},
    )

    def __init__(self, *args, provider: ExchangeProvider, current: list[str] | None = None, add: str = "", **kwargs):
        """``current``: what a reconnect's connection holds now, pre-selected instead of the defaults so that the
        user only adds to it; ``add``: one more offered permission to pre-select (the upgrade a page asked for)."""
        super().__init__(*args, **kwargs)
        self.offered = provider.offered_permissions()
        codes = [p.code for p in self.offered]
        self.fields["permissions"].choices = [(p.code, p.label) for p in self.offered]
        chosen = set(current if current else provider.get_default_scope()) | {add}
        self.fields["permissions"].initial = [code for code in codes if code in chosen]


def current_connection(request, provider: ExchangeProvider) -> ExchangeConnection | None:
    """The user's connection this connect would renew (a reconnect), if it still holds a grant."""
    return (
        ExchangeConnection.objects.filter(
            tenant=request.tenant, user=request.user, exchange=provider.id, server_slug=server_slug(provider)
        )
        .exclude(status=ExchangeConnection.Status.REVOKED)
        .without_secrets()
        .order_by("-pk")
        .first()
    )


@login_required
@require_http_methods(["GET", "POST"])
def connect_start(request, exchange_id: str, server: str = ""):
    provider = provider_for(request, exchange_id, server)
    problem = provider.configuration_problem()
    if problem:
        return callback_problem(
            request,
            provider,
            f"{provider.name} cannot be connected here yet: the broker's setup needs fixing. {problem}",
            status=503,
        )
    current = current_connection(request, provider)
    # ?add= only pre-ticks a box (the upgrade a page links to); what is asked for is what the user posts.
    form = PermissionForm(
        request.POST or None,
        provider=provider,
        current=current.permissions if current else None,
        add=request.GET.get("add", ""),
    )
    if request.method == "POST" and form.is_valid():
        try:
            return services.connection_authorization_start(
                provider=provider, request=request, permissions=form.cleaned_data["permissions"]
            )
        except RateLimited as limited:
            return too_many_requests(request, limited)
    return render(request, "connectors/connect_start.html", {"provider": provider, "form": form, "current": current})


def callback_problem(request, provider, message: str, status: int = 400):
    return render(
        request,
        "connectors/connect_error.html",
        {
            "provider": provider,
            "message": message,
            # the permission page, to try again from
            "retry_url": connect_url(provider.id, server_slug(provider)),
        },
        status=status,
    )


def server_slug(provider: ExchangeProvider) -> str:
    return provider.app.settings.get("server_slug") or ""


def never_stored(view):
    """The callback's URL carries the code: no cache may keep any answer to it, nor may a link on the answer
    send it on as a Referer (RFC 9700 §4.2). Any answer: an exception (an exchange not offered here, a refused
    method) is turned into its response here, as Django's handler would, so that it gets the headers too."""

    @functools.wraps(view)
    def answer(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except PortalError as error:
            response = portal_error_response(request, error)
        except Exception as error:  # noqa: BLE001  (every other kind: Django's own handler decides the response)
            response = response_for_exception(request, error)
        add_never_cache_headers(response)
        response["Referrer-Policy"] = "no-referrer"
        return response

    return answer


@never_stored
@require_http_methods(["GET"])
@rate_limited("exchange_callback")
def connect_callback(request, exchange_id: str, server: str = ""):
    provider = provider_for(request, exchange_id, server)
    if not request.user.is_authenticated:
        # No redirect to the sign-in page: it would carry the code along in ?next=.
        return callback_problem(request, provider, "Your session has ended. Sign in and connect again.")
    state_id = request.GET.get("state", "")
    state = statekit.unstash_state(request, provider_id=provider.sub_id, state_id=state_id) if state_id else None
    data = (state or {}).get("data") or {}
    if state is None or data.get("user_id") != request.user.pk or data.get("tenant_id") != request.tenant.pk:
        return callback_problem(
            request,
            provider,
            "This authorization was not started here, was already used or has expired. Please connect again.",
        )
    if issuer_mismatch(provider.app.settings, request.GET):
        return callback_problem(request, provider, "This answer did not come from the exchange it was sent to.")
    if "error" in request.GET or "code" not in request.GET:
        return callback_problem(request, provider, authorization_error_message(provider, request.GET))
    problem = provider.configuration_problem()
    if problem:
        return callback_problem(request, provider, problem, status=503)
    try:
        services.connection_authorize(
            provider=provider,
            request=request,
            code=request.GET["code"],
            state=state,
            permissions=data["permissions"],
            callback_params=request.GET,
        )
    except services.ConnectError as error:
        return callback_problem(request, provider, str(error), status=502 if error.upstream else 400)
    messages.success(request, f"{provider.name} is connected.")
    return redirect("dashboard")


@login_required
@require_http_methods(["POST"])
def disconnect(request, exchange_id: str, connection_id: int):
    connection = get_for_tenant(
        ExchangeConnection.objects.filter(user=request.user, exchange=exchange_id).without_secrets(),
        request.tenant,
        pk=connection_id,
    )
    provider = provider_for(request, exchange_id, connection.server_slug, enabled_only=False)
    had_api_key = bool(connection.masked_api_key)
    connection = services.connection_disconnect(provider=provider, connection=connection, request=request)
    erased = "its keys are erased here" if had_api_key else "its access tokens are erased here"
    messages.success(request, f"{provider.name} is disconnected and {erased}.")
    if connection.remote_cleanup["hint"]:
        messages.warning(request, connection.remote_cleanup["hint"])
    return redirect("dashboard")
