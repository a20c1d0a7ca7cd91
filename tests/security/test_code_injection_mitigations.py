"""Authorization code injection (RFC 9700 §4.5): PKCE wherever the server takes it, and where it cannot (OKX's Fast
API, KuCoin) no cache keeps the callback that carries the code."""

import logging
import threading

import pytest
import requests

from connectors.models import ExchangeCredential
from sandbox.exchanges import KRAKEN_SCOPES
from sandbox.services import client_register
from tests.connectors.helpers import query_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_generic_provider_sends_pkce_unless_told_not_to(browser_session, portal):
    base = portal["url"]
    redirect_uri = f"{base}/connect/oauth2/callback/"
    client_register(
        exchange="kraken",
        client_id="generic-client",
        client_secret="generic-secret",
        redirect_uris=[redirect_uri],
        permissions=KRAKEN_SCOPES,
    )
    credential = ExchangeCredential.objects.create(
        tenant=portal["tenant"],
        exchange="oauth2",
        client_id="generic-client",
        client_secret="generic-secret",
        redirect_uris=[redirect_uri],
        allowed_permissions=["account.info:basic"],
        default_permissions=[],
        authorize_base_url=f"{base}/sandbox/kraken",
        api_base_url=f"{base}/sandbox/kraken",
        settings={
            "authorize_url": f"{base}/sandbox/kraken/oauth/authorize",
            "token_url": f"{base}/sandbox/kraken/oauth/token",
            "client_auth": "basic",
        },
    )
    params = query_of(browser_session.start_connect("oauth2", ["account.info:basic"]))
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43

    credential.settings = {**credential.settings, "pkce": False}
    credential.save()
    assert "code_challenge" not in query_of(browser_session.start_connect("oauth2", ["account.info:basic"]))


@pytest.mark.parametrize("exchange_id", ["okx", "kucoin"])
def test_the_callback_answer_is_never_stored(browser_session, portal, sandbox_accounts, exchange_id):
    authorize_url = browser_session.start_connect(exchange_id)
    assert "code_challenge" not in authorize_url  # neither exchange takes PKCE for its Fast API
    account = sandbox_accounts[exchange_id]["trader"]
    callback = browser_session.consent(authorize_url, account["email"], account["password"])
    connected = browser_session.session.get(callback, allow_redirects=False)
    replayed = browser_session.session.get(callback, allow_redirects=False)  # the code and state are spent
    for response in (connected, replayed):
        assert "no-store" in response.headers["Cache-Control"], response.headers
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert connected.status_code == 302 and replayed.status_code == 400


CODE = "injected-code-Zq81xLm0"  # a value to look for in every header and log line


def test_every_callback_outcome_is_never_stored_and_logs_no_query(browser_session, portal, sandbox_accounts, caplog):
    """Success and replay are above; here the exchange's error, a forged state, a signed-out browser, an exchange
    the tenant does not offer (the generic OAuth 2.0 provider, not set up here) and a refused method: each answer
    says no-store and no-referrer, and no log line of any logger (Django's django.request warns on each 4xx)
    carries the callback's code or state."""
    caplog.set_level(logging.DEBUG)
    base = portal["url"]
    state = query_of(browser_session.start_connect("kucoin"))["state"]
    session = browser_session.session
    answers = {
        "exchange error": session.get(
            f"{base}/connect/kucoin/callback/", params={"error": "access_denied", "state": state}, allow_redirects=False
        ),
        "forged state": session.get(
            f"{base}/connect/kucoin/callback/",
            params={"code": CODE, "state": "forged-state-Wk3p"},
            allow_redirects=False,
        ),
        "signed out": requests.get(
            f"{base}/connect/kucoin/callback/", params={"code": CODE, "state": state}, allow_redirects=False, timeout=10
        ),
        "not offered": session.get(
            f"{base}/connect/oauth2/callback/", params={"code": CODE, "state": state}, allow_redirects=False
        ),
        "wrong method": session.post(
            f"{base}/connect/kucoin/callback/?code={CODE}&state={state}",
            headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{base}/"},
            allow_redirects=False,
        ),
    }
    for outcome, response in answers.items():
        assert response.status_code == (
            405 if outcome == "wrong method" else 404 if outcome == "not offered" else 400
        ), outcome
        assert "no-store" in response.headers.get("Cache-Control", ""), (outcome, response.headers)
        assert response.headers["Referrer-Policy"] == "no-referrer", outcome
        assert CODE not in response.text and state not in response.text, outcome
    # The portal's lines: those of the live server's threads (this thread's are the test's own HTTP client).
    logged = "\n".join(record.getMessage() for record in caplog.records if record.thread != threading.get_ident())
    assert "Bad Request: /connect/kucoin/callback/" in logged  # django.request did log the refusals
    assert CODE not in logged and state not in logged and "forged-state-Wk3p" not in logged
