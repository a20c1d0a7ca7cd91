"""An exchange whose answer is cut off or malformed during a connect ends the flow with a clear page, stores
nothing and leaves no token valid where the exchange can revoke it; never a 500."""

import socket
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.base.http import ExchangeUnavailable, exchange_session
from connectors.base.oauth import TokenSet
from connectors.models import ExchangeConnection
from sandbox.models import Token as SandboxToken

from .canned import cut_off, json_answer

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = {"access_token": "at-1", "token_type": "bearer", "refresh_token": "rt-1", "scope": ["OAUTH_CREATE_API"]}


def connect(browser_session, sandbox_accounts, exchange_id):
    return browser_session.connect(exchange_id, sandbox_accounts[exchange_id]["trader"])


@pytest.mark.parametrize("expires_in", ["an hour", [3600], -5, {"seconds": 3600}, "1e400"])
def test_a_token_response_whose_expires_in_is_no_number_is_refused_clearly(
    browser_session, sandbox_accounts, canned_answers, expires_in
):
    canned_answers["/_oauth/access-token"] = json_answer({**TOKEN, "expires_in": expires_in})
    response = connect(browser_session, sandbox_accounts, "kucoin")
    assert response.status_code == 400, response.text[:800]
    assert "did not accept the authorization" in response.text and "expires_in" in response.text
    assert not ExchangeConnection.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {**TOKEN, "access_token": None},
        {**TOKEN, "access_token": 12345},
        {**TOKEN, "refresh_token": {"value": "rt"}},
        {**TOKEN, "scope": 7},
        ["access_token"],
    ],
)
def test_a_token_response_of_the_wrong_shape_is_refused_clearly(
    browser_session, sandbox_accounts, canned_answers, body
):
    canned_answers["/_oauth/access-token"] = json_answer(body)
    response = connect(browser_session, sandbox_accounts, "kucoin")
    assert response.status_code == 400 and "did not accept the authorization" in response.text, response.text[:800]
    assert not ExchangeConnection.objects.exists()


@pytest.mark.parametrize(
    "expires_in, lifetime",
    [
        (7200, timedelta(hours=2)),
        ("7200", timedelta(hours=2)),
        (None, timedelta(hours=1)),
        (0, timedelta(hours=1)),
    ],
)
def test_expires_in_as_a_number_or_numeric_string_is_seconds_and_absent_is_the_default(expires_in, lifetime):
    before = timezone.now()
    token = TokenSet.from_response(
        {**TOKEN, "expires_in": expires_in}, default_access=timedelta(hours=1), refresh_lifetime=None
    )
    assert before + lifetime <= token.access_expires_at <= timezone.now() + lifetime


def test_a_token_answer_cut_off_mid_body_is_an_exchange_not_answering(
    browser_session, sandbox_accounts, canned_answers
):
    canned_answers["/_oauth/access-token"] = cut_off
    response = connect(browser_session, sandbox_accounts, "kucoin")
    assert response.status_code == 502 and "not answering right now" in response.text, response.text[:800]
    assert not ExchangeConnection.objects.exists()


@pytest.mark.parametrize(
    "exchange_id, path, body, expected",
    [
        (
            "okx",
            "/api/v5/users/oauth/apikey",
            {"code": "0", "msg": "", "data": [{"label": "broker-portal"}]},
            "had no usable apiKey, secretKey, passphrase",
        ),
        ("okx", "/api/v5/users/oauth/apikey", {"code": "0", "msg": "", "data": []}, "had no usable apiKey"),
        ("kucoin", "/api-key/add", {"success": True, "code": "200", "data": None}, "had no usable apiKey"),
        (
            "kucoin",
            "/api-key/add",
            {"success": True, "code": "200", "data": {"apiKey": "k", "secret": 5}},
            "had no usable secret, passphrase",
        ),
        ("kraken", "/oauth/fast-api-key", {"error": [], "result": {"id": "1", "api_key": "k"}}, "had no usable secret"),
        ("kraken", "/oauth/fast-api-key", {"error": [], "result": ["k", "s"]}, "had no usable api_key, secret"),
        ("peatio", "/api/v2/members/me", ["not", "a", "profile"], "profile answer was not an object"),
    ],
)
def test_a_malformed_key_or_profile_answer_ends_clearly_and_stores_nothing(
    browser_session, sandbox_accounts, canned_answers, exchange_id, path, body, expected
):
    canned_answers[path] = json_answer(body)
    response = connect(browser_session, sandbox_accounts, exchange_id)
    assert response.status_code == 502 and expected in response.text, response.text[:1500]
    assert not ExchangeConnection.objects.exists()
    if exchange_id in ("okx", "peatio"):  # the exchanges that can revoke: the flow's tokens are not left valid
        assert not SandboxToken.objects.filter(client__exchange=exchange_id, revoked_at__isnull=True).exists()


# --- the transport itself, against a server that breaks its answer off ------------------------------------


@pytest.fixture
def breaking_server():
    """A server that starts a chunked 200 answer and closes the connection in the middle of a chunk."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(5)

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b'Transfer-Encoding: chunked\r\n\r\n40\r\n{"access_token": "ab'
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    thread.join(timeout=5)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_answer_broken_off_mid_body_is_exchange_unavailable(breaking_server, method):
    with exchange_session(allowed_base_urls=[breaking_server]) as session:
        with pytest.raises(ExchangeUnavailable, match="could not be read"):
            session.request(method, f"{breaking_server}/oauth/token")
