"""The step-up before a withdrawal: it rotates the session key, counts for the one withdrawal its code was entered
for, and the TOTP step-up is locked out after repeated wrong codes, the API's and the web forms' counted together."""

import time
from datetime import timedelta

import pyotp
import pytest
import requests
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import timezone

from tests.withdrawals.helpers import connection_of, withdrawal_of
from withdrawals.models import Withdrawal

pytestmark = pytest.mark.django_db

SECRET = "JBSWY3DPEHPK3PXPSTEPUPXX"


@pytest.fixture
def member_with_totp(member):
    TOTP.activate(member, SECRET)
    return member


def previewed(member, tenant) -> Withdrawal:
    connection = member.connections.first() or connection_of(member, tenant)
    return withdrawal_of(
        connection,
        state="previewed",
        exchange_withdrawal_id="",
        submit_started_at=None,
        quote_expires_at=timezone.now() + timedelta(minutes=5),
    )


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_the_step_up_rotates_the_session_key(tenant, member_with_totp):
    withdrawal = previewed(member_with_totp, tenant)
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(member_with_totp)
    assert client.post(f"/withdrawals/{withdrawal.pk}/step-up/").status_code == 200  # the code field
    before = session_key(client)

    response = client.post(f"/withdrawals/{withdrawal.pk}/step-up/", {"code": pyotp.TOTP(SECRET).now()})
    assert response["Location"] == f"/withdrawals/{withdrawal.pk}/verify/"
    assert session_key(client) != before
    assert not SessionStore(session_key=before).exists(before)
    assert client.get("/withdrawals/").status_code == 200  # still signed in, under the new key


@pytest.mark.django_db(transaction=True)
def test_the_api_step_up_rotates_the_session_it_was_made_with(portal, kucoin, browser_session):  # noqa: F811
    """The API used with a session cookie (a browser, the portal's own pages): over real HTTP against the live
    sandbox, the step-up gives the session a new key, and the key from before it no longer opens anything, the
    stepped-up withdrawal included."""
    TOTP.activate(portal["user"], SECRET)
    web = browser_session.session
    api = f"{portal['url']}/api/v1"
    csrf = {"X-CSRFToken": web.cookies["csrftoken"], "Referer": portal["url"] + "/"}
    created = web.post(
        f"{api}/withdrawals/",
        headers=csrf,
        json={
            "connection": kucoin.pk,
            "currency": "BTC",
            "chain": "btc",
            "destination": "bc1qstepuprotation0",
            "amount": "0.01",
        },
    )
    assert created.status_code == 201, created.text
    withdrawal = f"{api}/withdrawals/{created.json()['id']}/"
    assert web.post(f"{withdrawal}preview/", headers=csrf).json()["state"] == "previewed"
    before = web.cookies[settings.SESSION_COOKIE_NAME]

    stepped = web.post(f"{withdrawal}factors/", headers=csrf, json={"mfa_code": pyotp.TOTP(SECRET).now()})
    assert stepped.status_code == 200 and stepped.json()["state"] == "factors_requested", stepped.text
    assert web.cookies[settings.SESSION_COOKIE_NAME] != before
    assert not SessionStore(session_key=before).exists(before)
    assert web.get(withdrawal).json()["state"] == "factors_requested"  # the new key carries the session

    old = requests.Session()
    old.cookies.set(settings.SESSION_COOKIE_NAME, before)
    old.cookies.set("csrftoken", web.cookies["csrftoken"])
    assert old.get(withdrawal).status_code in (401, 403)
    assert old.post(f"{withdrawal}submit/", headers=csrf, json={"codes": {}}).status_code in (401, 403)


def test_a_code_steps_up_only_the_withdrawal_it_was_entered_for(tenant, member_with_totp):
    one, other = previewed(member_with_totp, tenant), previewed(member_with_totp, tenant)
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(member_with_totp)
    code = pyotp.TOTP(SECRET).now()
    assert client.post(f"/withdrawals/{other.pk}/step-up/", {"code": code})["Location"].endswith("/verify/")
    assert client.post(f"/withdrawals/{one.pk}/step-up/", {"code": code}).status_code == 200  # taken once

    one.refresh_from_db()
    other.refresh_from_db()
    assert other.state == Withdrawal.State.STEPPED_UP
    assert one.state == Withdrawal.State.PREVIEWED and one.stepped_up_at is None


def test_the_api_totp_step_up_locks_out_after_repeated_wrong_codes(api, tenant, member_with_totp):
    withdrawal = previewed(member_with_totp, tenant)
    wrong = "000000" if pyotp.TOTP(SECRET).now() != "000000" else "111111"
    answers = [
        api.post(f"/api/v1/withdrawals/{withdrawal.pk}/factors/", {"mfa_code": wrong}, format="json") for _ in range(5)
    ]
    assert [answer.status_code for answer in answers] == [422] * 5

    # Locked out: even the right code is not tried now, and the web forms share the count.
    right = api.post(
        f"/api/v1/withdrawals/{withdrawal.pk}/factors/", {"mfa_code": pyotp.TOTP(SECRET).now()}, format="json"
    )
    assert right.status_code == 429
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PREVIEWED
    web = Client(HTTP_HOST="alpha.localhost")
    web.force_login(member_with_totp)
    next_code = pyotp.TOTP(SECRET).at(time.time() + 30)
    assert web.post(f"/withdrawals/{withdrawal.pk}/step-up/", {"code": next_code}).status_code == 429
    refused = web.post("/accounts/2fa/reauthenticate/", {"code": next_code})
    assert refused.status_code == 200 and "Too many" in refused.content.decode()
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PREVIEWED
