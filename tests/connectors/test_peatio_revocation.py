"""Peatio's signature and revocation. The revocation is Doorkeeper 1.4's (doorkeeper-gem/doorkeeper v1.4.1
tokens_controller.rb#revoke): it acts only on an access token presented as Bearer and answers 200 whatever
happened, so the audit says "revoked" only when the key pair is shown dead afterwards (hpyhacking/peatio: 2008,
the key does not exist)."""

import hashlib
import hmac

import pytest

from broker_portal.models import AuditEvent
from connectors.models import ExchangeConnection
from connectors.peatio.client import sign
from sandbox import clock as sandbox_clock
from sandbox.models import Token as SandboxToken

from .canned import json_answer
from .helpers import csrf_token

pytestmark = pytest.mark.django_db(transaction=True)


def connect_and_disconnect(browser_session, portal, sandbox_accounts, before_disconnect=None):
    assert browser_session.connect("peatio", sandbox_accounts["peatio"]["trader"]).status_code == 302
    connection = ExchangeConnection.objects.get()
    if before_disconnect:
        before_disconnect()
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    response = browser_session.session.post(
        f"{portal['url']}/connect/peatio/{connection.pk}/disconnect/",
        data={"csrfmiddlewaretoken": csrf_token(dashboard)},
        allow_redirects=False,
    )
    assert response.status_code == 302
    return AuditEvent.objects.get(action="connection.disconnected").details


def live_tokens():
    return SandboxToken.objects.filter(client__exchange="peatio", revoked_at__isnull=True, superseded_at__isnull=True)


def test_disconnect_revokes_with_the_bearer_token_and_proves_the_key_pair_dead(
    browser_session, portal, sandbox_accounts
):
    details = connect_and_disconnect(browser_session, portal, sandbox_accounts)
    assert details["tokens_revoked"] is True and "error" not in details, details
    assert not live_tokens().exists()


def test_a_200_that_revoked_nothing_is_not_reported_as_revoked(
    browser_session, portal, sandbox_accounts, canned_answers
):
    def revoke_answers_200_and_does_nothing():
        canned_answers["/oauth/revoke"] = json_answer({})

    details = connect_and_disconnect(browser_session, portal, sandbox_accounts, revoke_answers_200_and_does_nothing)
    assert details["tokens_revoked"] is False
    assert live_tokens().count() == 1  # the key pair still works at the exchange, and the audit says so


def test_an_expired_access_token_is_refreshed_then_revoked(browser_session, portal, sandbox_accounts):
    def expire_the_access_token():
        sandbox_clock.set_offset(4 * 3600 + 60)  # the sandbox's Peatio tokens live 4 h; the refresh token is fine

    try:
        details = connect_and_disconnect(browser_session, portal, sandbox_accounts, expire_the_access_token)
    finally:
        sandbox_clock.set_offset(0)
    assert details["tokens_revoked"] is True and "error" not in details, details
    assert not live_tokens().exists()


def test_the_signed_query_is_sorted_and_unescaped():
    # hpyhacking/peatio keypair_authenticator.rb#canonical_params: URI.unescape of the sorted to_param.
    params = {"tonce": "1", "access_key": "xxx", "from": "2017-12-01T00:00:00+08:00"}
    payload = "GET|/api/v2/trades/my|access_key=xxx&from=2017-12-01T00:00:00+08:00&tonce=1"
    expected = hmac.new(b"yyy", payload.encode(), hashlib.sha256).hexdigest()
    assert sign("yyy", "GET", "/api/v2/trades/my", params) == expected
