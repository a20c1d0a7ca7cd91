"""Who is calling a private REST endpoint, checked as strictly as each exchange does."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest

from . import clock, signing
from .http import body_text, local_path
from .models import ApiKey, SandboxUser, Token, UsedTonce
from .oauth import TokenProblem, bearer_value, token_for_access

KUCOIN_TIMESTAMP_WINDOW_MS = 5000
OKX_TIMESTAMP_WINDOW_MS = 30000
PEATIO_TONCE_WINDOW_MS = 30000
PEATIO_RATE_WINDOW_MS = 5 * 60 * 1000


def peatio_rate_limit() -> int:
    return settings.SANDBOX_PEATIO_REQUESTS_PER_WINDOW


OKX_TIMESTAMP_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


class ApiRefused(Exception):
    """A refusal already in the exchange's own error shape: a JSON object, or plain text."""

    def __init__(self, body: dict | str, status: int = 401, headers: dict | None = None):
        super().__init__(str(body))
        self.body, self.status, self.headers = body, status, headers or {}


@dataclass
class Caller:
    user: SandboxUser
    api_key: ApiKey | None = None
    token: Token | None = None

    def allows(self, permission: str) -> bool:
        granted = self.api_key.permissions if self.api_key else self.token.scopes
        return permission in granted


def kucoin_error(code: str, message: str, status: int = 401) -> ApiRefused:
    return ApiRefused({"code": code, "msg": message}, status)


def okx_error(code: str, message: str, status: int = 401) -> ApiRefused:
    return ApiRefused({"code": code, "msg": message, "data": []}, status)


def kraken_error(error: str) -> ApiRefused:
    return ApiRefused({"error": [error], "result": {}}, 200)  # Kraken answers errors with HTTP 200


def peatio_error(code: int, message: str, status: int = 401) -> ApiRefused:
    return ApiRefused({"error": {"code": code, "message": message}}, status)


def _active_key(exchange: str, value: str | None) -> ApiKey | None:
    if not value:
        return None
    return (
        ApiKey.objects.select_related("user", "client")
        .filter(exchange=exchange, api_key=value, deleted_at__isnull=True)
        .first()
    )


def bearer_caller(exchange: str, request, refuse) -> Caller | None:
    """Where an exchange accepts its OAuth access token on REST calls. ``refuse(reason)`` shapes the error."""
    value = bearer_value(request.headers.get("Authorization", ""))
    if not value:
        return None
    try:
        token = token_for_access(exchange, value, device_id=request.headers.get("TERMID"))
    except TokenProblem as problem:
        raise refuse(problem.reason)
    return Caller(user=token.user, token=token)


# --- KuCoin ------------------------------------------------------------------------------------------

KUCOIN_TOKEN_REFUSALS = {
    "unknown": ("401", "Invalid access token."),
    "expired": ("401", "Access token expired."),
    "revoked": ("401", "Access token is no longer valid."),
    "device": ("401", "Access token is no longer valid."),
}


def kucoin_caller(request) -> Caller:
    if "KC-API-KEY" not in request.headers:
        caller = bearer_caller("kucoin", request, lambda reason: kucoin_error(*KUCOIN_TOKEN_REFUSALS[reason]))
        if caller:
            return caller
    headers = request.headers
    required = ["KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE", "KC-API-KEY-VERSION"]
    if any(not headers.get(name) for name in required):
        raise kucoin_error("400001", "Please check the header of your request for " + ", ".join(required) + ".")
    key = _active_key("kucoin", headers["KC-API-KEY"])
    if key is None:
        raise kucoin_error("400003", "KC-API-KEY not exists")
    timestamp = headers["KC-API-TIMESTAMP"]
    if not timestamp.isdigit() or abs(clock.real_now_ms() - int(timestamp)) > KUCOIN_TIMESTAMP_WINDOW_MS:
        raise kucoin_error("400002", "KC-API-TIMESTAMP Invalid -- Time differs from server time by more than 5 seconds")
    expected_sign = signing.kucoin_signature(
        key.secret, timestamp, request.method, local_path(request, "kucoin"), body_text(request)
    )
    if not signing.matches(expected_sign, headers["KC-API-SIGN"]):
        raise kucoin_error("400005", "Invalid KC-API-SIGN")
    version = headers["KC-API-KEY-VERSION"]
    passphrase = signing.kucoin_passphrase(key.secret, key.passphrase) if version != "1" else key.passphrase
    if version != key.version or not signing.matches(passphrase, headers["KC-API-PASSPHRASE"]):
        raise kucoin_error("400004", "Invalid KC-API-PASSPHRASE")
    # Fast API keys belong to a broker: every call carries the broker's attribution, signed with its key (KuCoin's
    # broker docs and SDKs, level A): KC-API-PARTNER (the sandbox's partner id is the client id), KC-BROKER-NAME
    # (the broker name issued at registration, a value of its own), KC-API-PARTNER-VERIFY: true and
    # KC-API-PARTNER-SIGN = base64(HMAC-SHA256(broker key, timestamp + partner + api key)); the sandbox's broker
    # key is the client secret.
    partner = key.client.client_id
    expected_partner_sign = signing.kucoin_partner_signature(key.client.client_secret, timestamp, partner, key.api_key)
    if (
        headers.get("KC-API-PARTNER") != partner
        or not key.client.broker_name
        or headers.get("KC-BROKER-NAME") != key.client.broker_name
        or headers.get("KC-API-PARTNER-VERIFY") != "true"
        or not signing.matches(expected_partner_sign, headers.get("KC-API-PARTNER-SIGN"))
    ):
        raise kucoin_error("400201", "Invalid KC-API-PARTNER-SIGN", status=400)
    return Caller(user=key.user, api_key=key)


# --- OKX ---------------------------------------------------------------------------------------------

OKX_TOKEN_REFUSALS = {
    "unknown": ("53004", "Invalid access token."),
    "expired": ("53002", "Access token expired."),
    "revoked": ("53003", "Access token revoked."),
    "device": ("53001", "TERMID header missing or not the device this token is bound to."),
}


def okx_caller(request) -> Caller:
    if "OK-ACCESS-KEY" not in request.headers:
        caller = bearer_caller("okx", request, lambda reason: okx_error(*OKX_TOKEN_REFUSALS[reason]))
        if caller:
            return caller
    headers = request.headers
    for name, code in [
        ("OK-ACCESS-KEY", "50103"),
        ("OK-ACCESS-PASSPHRASE", "50104"),
        ("OK-ACCESS-SIGN", "50106"),
        ("OK-ACCESS-TIMESTAMP", "50107"),
    ]:
        if not headers.get(name):
            raise okx_error(code, f"Request header {name} can't be empty.")
    timestamp = headers["OK-ACCESS-TIMESTAMP"]
    if not OKX_TIMESTAMP_FORMAT.match(timestamp):
        raise okx_error("50112", "Invalid OK-ACCESS-TIMESTAMP (ISO 8601 with milliseconds and Z).")
    sent_at = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if abs(clock.real_now_ms() - sent_at.timestamp() * 1000) > OKX_TIMESTAMP_WINDOW_MS:
        raise okx_error("50102", "Timestamp request expired.")
    key = _active_key("okx", headers["OK-ACCESS-KEY"])
    if key is None:
        raise okx_error("50111", "Invalid OK-ACCESS-KEY.")
    if not signing.matches(key.passphrase, headers["OK-ACCESS-PASSPHRASE"]):
        raise okx_error("50105", "Invalid OK-ACCESS-PASSPHRASE.")
    expected = signing.okx_signature(
        key.secret, timestamp, request.method, local_path(request, "okx"), body_text(request)
    )
    if not signing.matches(expected, headers["OK-ACCESS-SIGN"]):
        raise okx_error("50113", "Invalid Sign.")
    return Caller(user=key.user, api_key=key)


# --- Kraken ------------------------------------------------------------------------------------------


def kraken_caller(request) -> Caller:
    key = _active_key("kraken", request.headers.get("API-Key"))
    if key is None or (key.valid_until and key.valid_until <= clock.now()):
        raise kraken_error("EAPI:Invalid key")
    if key.ip_allowlist and request.META.get("REMOTE_ADDR") not in key.ip_allowlist:
        raise kraken_error("EGeneral:Permission denied")
    nonce = request.POST.get("nonce", "")
    if request.content_type != "application/x-www-form-urlencoded" or not nonce.isdigit():
        raise kraken_error("EAPI:Invalid nonce")
    expected = signing.kraken_signature(
        key.secret, local_path(request, "kraken", with_query=False), nonce, body_text(request)
    )
    if not signing.matches(expected, request.headers.get("API-Sign")):
        raise kraken_error("EAPI:Invalid signature")
    # Strictly increasing per key (or within the key's nonce window); claimed atomically.
    claimed = ApiKey.objects.filter(pk=key.pk, last_nonce__lt=int(nonce) + key.nonce_window).update(
        last_nonce=Greatest(F("last_nonce"), int(nonce))
    )
    if not claimed:
        raise kraken_error("EAPI:Invalid nonce")
    return Caller(user=key.user, api_key=key)


# --- Peatio ------------------------------------------------------------------------------------------


def peatio_caller(request) -> Caller:
    params = {**request.GET.dict(), **(request.POST.dict() if request.method == "POST" else {})}
    access_key, tonce, signature = params.get("access_key"), params.get("tonce", ""), params.get("signature")
    if not access_key or not signature or not tonce.isdigit():
        raise peatio_error(2001, "Authorization failed: access_key, tonce and signature are required.")
    token = (
        Token.objects.select_related("user", "client")
        .filter(access_token=access_key, client__exchange="peatio")
        .first()
    )
    # hpyhacking/peatio (2017) app/api/api_v2/auth/keypair_authenticator.rb#check_token! and errors.rb. A revoked
    # token's key pair is gone: lib/doorkeeper/access_token.rb#revoke destroys its APIToken (a refresh revokes
    # the old token, Doorkeeper 1.4 RefreshTokenRequest), so its access key "does not exist" (2008). 2009
    # "disabled" is the member's api_disabled, which the sandbox does not act out.
    if token is None or token.revoked_at or token.superseded_at:
        raise peatio_error(2008, f"The access key {access_key} does not exist.")
    if token.access_expires_at <= clock.now():
        raise peatio_error(2010, f"The access key {access_key} has expired.")
    now_ms = clock.real_now_ms()
    if abs(now_ms - int(tonce)) > PEATIO_TONCE_WINDOW_MS:
        raise peatio_error(2007, f"The tonce {tonce} is invalid, current timestamp is {now_ms}.")
    path = local_path(request, "peatio", with_query=False)
    expected = signing.peatio_signature(token.access_secret, request.method, path, params)
    if not signing.matches(expected, signature):
        raise peatio_error(2005, f"Signature {signature} is incorrect.")
    # 6000 requests per key pair per 5 minutes; each accepted request left its tonce, so they are the count.
    window_start = now_ms - PEATIO_RATE_WINDOW_MS
    if UsedTonce.objects.filter(access_key=access_key, tonce__gte=window_start).count() >= peatio_rate_limit():
        # hpyhacking/peatio (2017) app/api/api_v2/constraints.rb: Rack::Attack.throttle 6000 per 5 minutes per
        # access key, answered by rack-attack 3.0.0's default (Gemfile.lock): 429, Retry-After: <period>,
        # "Retry later\n" as plain text. (2002 is Peatio's CreateOrderError, not a rate limit.)
        raise ApiRefused("Retry later\n", status=429, headers={"Retry-After": str(PEATIO_RATE_WINDOW_MS // 1000)})
    try:
        with transaction.atomic():
            UsedTonce.objects.create(access_key=access_key, tonce=int(tonce))
    except IntegrityError:
        raise peatio_error(2006, f"The tonce {tonce} has already been used by access key {access_key}.")
    return Caller(user=token.user, token=token)
