"""The OAuth pages and endpoints, one flow for all four exchanges with their differences as data."""

import pyotp
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt

from .. import faults, oauth
from ..exchanges import PROFILES
from ..funds import totp_matches
from ..http import AnySchemeRedirect, is_json, json_response, request_params
from ..models import Client, InboxMessage, SandboxUser
from ..services import user_sign_in
from . import okx as okx_views

SESSION_USER = "sandbox_user_{exchange}"


def signed_in_user(request, exchange: str) -> SandboxUser | None:
    user_id = request.session.get(SESSION_USER.format(exchange=exchange))
    return SandboxUser.objects.filter(pk=user_id, exchange=exchange).first() if user_id else None


def sign_in_step(request, exchange: str):
    """Handles the sign-in and sign-out forms. Returns (user, response): a response ends the request."""
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "sign_out":
        request.session.pop(SESSION_USER.format(exchange=exchange), None)
        return None, redirect(request.get_full_path())
    if action == "sign_in":
        user = user_sign_in(exchange, request.POST.get("email", ""), request.POST.get("password", ""))
        if user is None:
            context = {
                "exchange": PROFILES[exchange],
                "error": "Wrong e-mail or password.",
                "email": request.POST.get("email", ""),
            }
            return None, render(request, "sandbox/login.html", context, status=401)
        request.session[SESSION_USER.format(exchange=exchange)] = user.pk
        return user, redirect(request.get_full_path())
    user = signed_in_user(request, exchange)
    if user is None:
        return None, render(request, "sandbox/login.html", {"exchange": PROFILES[exchange]})
    return user, None


def error_page(request, exchange: str, message: str, code: str = "", status: int = 400):
    return render(
        request, "sandbox/error.html", {"exchange": PROFILES[exchange], "message": message, "code": code}, status=status
    )


def authorize(request, exchange: str):
    """GET shows sign-in, then consent; POST handles those forms. Never redirects to an unchecked URI."""
    try:
        auth = oauth.parse_authorize_request(exchange, request.GET, request.META.get("QUERY_STRING", ""))
    except oauth.AuthorizePageError as problem:
        return error_page(request, exchange, problem.message, problem.code)
    except oauth.AuthorizeRedirectError as problem:
        return AnySchemeRedirect(
            oauth.with_params(problem.redirect_uri, {"error": problem.error, "state": problem.state})
        )
    user, response = sign_in_step(request, exchange)
    if response is not None:
        return response
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "deny":
        return AnySchemeRedirect(oauth.with_params(auth.redirect_uri, {"error": "access_denied", "state": auth.state}))
    if action == "approve":
        scopes = oauth.granted_scopes(auth, request.POST.getlist("scope"))
        params = {"code": oauth.issue_code(auth, user, scopes), "state": auth.state}
        if exchange == "okx":
            params["domain"] = okx_views.regional_domain(request)  # later calls go to this host
        return AnySchemeRedirect(oauth.with_params(auth.redirect_uri, params))
    context = {"exchange": auth.profile, "client": auth.client, "user": user, "choices": auth.choices}
    return render(request, "sandbox/consent.html", context)


def oauth_error_response(problem: oauth.OAuthError, exchange: str):
    body = {"error": problem.error, "error_description": problem.description}
    if exchange == "okx":
        body.update(code=problem.code or "53000", msg=problem.description)
    response = json_response(body, status=problem.status)
    if problem.status == 401 and PROFILES[exchange].token_client_auth == "basic":
        response["WWW-Authenticate"] = 'Basic realm="oauth"'
    return response


def client_from_token_request(request, exchange: str, params: dict) -> Client:
    if PROFILES[exchange].token_client_auth == "basic":
        if "client_secret" in params:
            raise oauth.OAuthError("invalid_request", "Send client credentials only in the Authorization header.")
        client_id, client_secret = oauth.basic_credentials(request.headers.get("Authorization", ""))
        if params.get("client_id") and params["client_id"] != client_id:
            raise oauth.OAuthError("invalid_client", "client_id differs from the Basic credentials.", status=401)
    else:
        client_id, client_secret = params.get("client_id", ""), params.get("client_secret")
    return oauth.authenticate_client(exchange, client_id, client_secret)


def token_view(exchange: str, grants: dict[str, str], name: str = "token"):
    """A token endpoint. ``grants`` maps each accepted grant_type to "code" or "refresh"."""

    @csrf_exempt
    @faults.endpoint(exchange, name)
    def view(request):
        if request.method != "POST":
            return json_response({"error": "invalid_request", "error_description": "POST only."}, status=405)
        try:
            if exchange == "kraken" and is_json(request):
                raise oauth.OAuthError("invalid_request", "The token request must be form-encoded.")
            if PROFILES[exchange].token_request_format == "json" and not is_json(request):
                # OKX: "Content-Type: application/json" (INTEGRATION_GUIDE.md step 3). The answer's code is the
                # sandbox's choice (OKX's JSON-format error), level C.
                raise oauth.OAuthError("invalid_request", "The token request must be a JSON body.", code="50002")
            params = request_params(request)
            grant = grants.get(params.get("grant_type", ""))
            if grant is None:
                raise oauth.OAuthError("unsupported_grant_type", f"grant_type must be one of {sorted(grants)}.")
            client = client_from_token_request(request, exchange, params)
            device_id = request.headers.get("TERMID", "")
            if grant == "code":
                token = oauth.exchange_code(
                    client,
                    params.get("code", ""),
                    params.get("redirect_uri"),
                    redirect_uri_required=exchange != "okx",
                    code_verifier=params.get("code_verifier", ""),
                    device_id=device_id,
                )
            else:
                if exchange == "kucoin" and not params.get("scope"):
                    raise oauth.OAuthError("invalid_request", "scope is required.")
                token = oauth.refresh(
                    client, params.get("refresh_token", ""), scope=params.get("scope"), device_id=device_id
                )
        except oauth.OAuthError as problem:
            return oauth_error_response(problem, exchange)
        return json_response(oauth.token_response(token))

    return view


def revoke_view(exchange: str):
    @csrf_exempt
    @faults.endpoint(exchange, "revoke")
    def view(request):
        if request.method != "POST":
            return json_response({"error": "invalid_request"}, status=405)
        params = request_params(request)
        try:
            client = client_from_token_request(request, exchange, params)
        except oauth.OAuthError as problem:
            return oauth_error_response(problem, exchange)
        oauth.revoke(client, params.get("token", ""))
        return json_response({"code": "0", "msg": "", "data": []} if exchange == "okx" else {})

    return view


# --- KuCoin's security setup page (bind an authenticator, then back to the broker) ----------------


def kucoin_g2fa(request):
    """KuCoin's security-setup link on its www site, with client_id and an encoded redirect_uri to come back to
    (broker guide section 8.1; level C: the seed guide alone)."""
    user, response = sign_in_step(request, "kucoin")
    if response is not None:
        return response
    client = Client.objects.filter(exchange="kucoin", client_id=request.GET.get("client_id", "")).first()
    redirect_uri = request.GET.get("redirect_uri", "")
    back_to = redirect_uri if client and redirect_uri in client.redirect_uris else ""
    context = {"exchange": PROFILES["kucoin"], "user": user, "back_to": back_to}
    if user.totp_secret:
        return render(request, "sandbox/g2fa_done.html", context)
    pending_secret = request.session.get("sandbox_pending_totp") or pyotp.random_base32()
    request.session["sandbox_pending_totp"] = pending_secret
    if request.method == "POST" and request.POST.get("action") == "bind":
        if totp_matches(pending_secret, request.POST.get("code", "")):
            user.totp_secret = pending_secret
            user.save(update_fields=["totp_secret"])
            request.session.pop("sandbox_pending_totp", None)
            return AnySchemeRedirect(back_to) if back_to else render(request, "sandbox/g2fa_done.html", context)
        context["error"] = "That code is not right; try the current one."
    uri = pyotp.TOTP(pending_secret).provisioning_uri(name=user.email, issuer_name="KuCoin sandbox")
    context.update(secret=pending_secret, provisioning_uri=uri)
    return render(request, "sandbox/g2fa.html", context)


def inbox(request):
    messages = InboxMessage.objects.order_by("-sent_at", "-id")
    if request.GET.get("email"):
        messages = messages.filter(to_email__iexact=request.GET["email"])
    messages = list(messages[:200])
    if request.GET.get("format") == "json":
        return json_response(
            [
                {
                    "exchange": m.exchange,
                    "to": m.to_email,
                    "subject": m.subject,
                    "body": m.body,
                    "code": m.code,
                    "sent_at": m.sent_at.isoformat(),
                }
                for m in messages
            ]
        )
    return render(request, "sandbox/inbox.html", {"messages": messages})


def sandbox_index(request):
    return HttpResponse("Exchange sandbox: see sandbox/README.md", content_type="text/plain")
