"""Request signatures exactly as each exchange defines them (pure functions, testable with published vectors)."""

import base64
import hashlib
import hmac
from urllib.parse import unquote, urlencode


def _hmac_b64(key: bytes, message: str, digest=hashlib.sha256) -> str:
    return base64.b64encode(hmac.new(key, message.encode(), digest).digest()).decode()


def kucoin_signature(secret: str, timestamp: str, method: str, path_with_query: str, body: str) -> str:
    return _hmac_b64(secret.encode(), f"{timestamp}{method.upper()}{path_with_query}{body}")


def kucoin_passphrase(secret: str, passphrase: str) -> str:
    """Key version 2 and later send the passphrase HMAC'd with the secret."""
    return _hmac_b64(secret.encode(), passphrase)


def kucoin_partner_signature(broker_key: str, timestamp: str, partner: str, api_key: str) -> str:
    return _hmac_b64(broker_key.encode(), f"{timestamp}{partner}{api_key}")


def okx_signature(secret: str, timestamp: str, method: str, request_path: str, body: str) -> str:
    return _hmac_b64(secret.encode(), f"{timestamp}{method.upper()}{request_path}{body}")


def kraken_signature(secret_b64: str, uri_path: str, nonce: str, post_data: str) -> str:
    sha256 = hashlib.sha256((str(nonce) + post_data).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + sha256, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def peatio_payload(verb: str, path: str, params: dict) -> str:
    # hpyhacking/peatio (2017) app/api/api_v2/auth/keypair_authenticator.rb#canonical_params: the parameters
    # sorted by name, to_param, then URI.unescape: the signed query is unescaped ("+08:00", not "%2B08%3A00").
    query = unquote(urlencode(sorted((key, value) for key, value in params.items() if key != "signature")))
    return f"{verb.upper()}|{path}|{query}"


def peatio_signature(secret_key: str, verb: str, path: str, params: dict) -> str:
    payload = peatio_payload(verb, path, params)
    return hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def matches(expected: str, given: str | None) -> bool:
    return hmac.compare_digest(expected.encode(), (given or "").encode())
