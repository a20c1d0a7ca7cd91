"""A TOTP code is accepted once, for as long as it can be valid (RFC 6238 §5.2), and never after a newer code.

With one period of tolerance either side (MFA_TOTP_TOLERANCE = 1) a code is valid for three periods; allauth
remembers a used code in the cache for one period only. Clearing the cache is what that period's end does to
allauth's memory, while the code itself stays valid: the portal must still refuse it."""

import time

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.test import Client

from tests.helpers import make_member
from withdrawals.services.step_up import portal_mfa_code_valid as verify_portal_mfa

pytestmark = pytest.mark.django_db

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"
PASSWORD = "correct-horse-battery"


def code_at(offset_periods: int = 0) -> str:
    return pyotp.TOTP(SECRET).at(time.time() + 30 * offset_periods)


@pytest.fixture
def user_with_totp(tenant):
    user = make_member(tenant, "totp@alpha.example")
    TOTP.activate(user, SECRET)
    return user


def authenticator(user) -> TOTP:
    return TOTP(Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP))


def sign_in_with_code(email: str, code: str) -> Client:
    client = Client(HTTP_HOST="alpha.localhost")
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    client.post("/accounts/2fa/authenticate/", {"code": code})
    return client


def test_a_code_signs_in_once_while_it_is_still_valid(user_with_totp):
    code = code_at()
    assert sign_in_with_code(user_with_totp.email, code).get("/").status_code == 200
    cache.clear()  # allauth's one-period memory of the code has run out; the code is valid two periods more
    assert sign_in_with_code(user_with_totp.email, code).get("/").status_code == 302


def test_a_code_steps_up_once_through_the_api_check(user_with_totp):
    code = code_at()
    assert verify_portal_mfa(user_with_totp, code)
    cache.clear()
    assert not verify_portal_mfa(user_with_totp, code)


def test_an_older_code_is_refused_after_a_newer_one_was_used(user_with_totp):
    previous, current = code_at(-1), code_at()
    if previous == current:  # the same six digits two periods running: nothing to tell apart
        pytest.skip("identical consecutive codes")
    assert authenticator(user_with_totp).validate_code(current)
    assert not authenticator(user_with_totp).validate_code(previous)


def test_a_wrong_code_does_not_use_up_the_right_one(user_with_totp):
    wrong = "000000" if code_at() != "000000" else "111111"
    assert not authenticator(user_with_totp).validate_code(wrong)
    assert authenticator(user_with_totp).validate_code(code_at())


def activate_with_code(email: str) -> tuple[str, str]:
    """Set up TOTP through allauth's own form, as a user does; returns the secret and the code typed."""
    client = Client(HTTP_HOST="alpha.localhost")
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200
    secret = client.session["mfa.totp.secret"]
    code = pyotp.TOTP(secret).now()
    response = client.post("/accounts/2fa/totp/activate/", {"code": code})
    assert response.status_code == 302, response.content.decode()[:500]
    return secret, code


def test_the_code_that_set_up_totp_is_used_up(tenant):
    user = make_member(tenant, "setup@alpha.example")
    _, code = activate_with_code(user.email)
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    cache.clear()  # nothing of the setup is left in allauth's memory
    assert sign_in_with_code(user.email, code).get("/").status_code == 302  # not signed in by it
    assert not verify_portal_mfa(user, code)  # nor stepped up


def test_the_next_code_after_setup_still_signs_in(tenant):
    user = make_member(tenant, "setup-next@alpha.example")
    secret, code = activate_with_code(user.email)
    later = pyotp.TOTP(secret).at(time.time() + 30)
    if later == code:
        pytest.skip("identical consecutive codes")
    assert sign_in_with_code(user.email, later).get("/").status_code == 200
