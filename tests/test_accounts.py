import re

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core import mail

from broker_portal.models import AuditEvent, Membership, User
from tests.helpers import make_member

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def sign_in(client, email, password=PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_member_signs_in_at_own_tenant_and_the_sign_in_is_audited(member, tenant, client_at):
    client = client_at("alpha.localhost")
    response = sign_in(client, member.email)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    event = AuditEvent.objects.get(action="account.signed_in")
    assert event.tenant == tenant and event.actor == member


def test_same_credentials_at_another_tenant_are_simply_wrong(member, other_tenant, client_at):
    client = client_at("beta.localhost")
    response = sign_in(client, member.email)
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(tenant=other_tenant, action="account.sign_in_failed").count() == 1


def test_sign_up_makes_an_end_user_of_the_tenant_it_happened_at(tenant, client_at):
    client = client_at("alpha.localhost")
    response = client.post(
        "/accounts/signup/",
        {
            "email": "new@alpha.example",
            "password1": "a-long-new-passphrase",
            "password2": "a-long-new-passphrase",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@alpha.example")
    assert Membership.objects.get(user=user).tenant == tenant
    assert Membership.objects.get(user=user).role == Membership.Role.MEMBER
    assert AuditEvent.objects.filter(action="account.signed_up", actor=user).exists()
    # E-mail verification is mandatory: a confirmation mail went out, branded for the tenant.
    assert len(mail.outbox) == 1 and "[Alpha Broker]" in mail.outbox[0].subject


def test_password_reset_mails_only_members_of_the_asking_tenant(member, other_tenant, client_at):
    client_at("beta.localhost").post("/accounts/password/reset/", {"email": member.email})
    # Enumeration prevention still answers by mail, but with no way into the account.
    assert len(mail.outbox) == 1 and "/password/reset/key/" not in mail.outbox[0].body
    client_at("alpha.localhost").post("/accounts/password/reset/", {"email": member.email})
    assert len(mail.outbox) == 2 and "http://alpha.localhost/accounts/password/reset/key/" in mail.outbox[1].body


def test_broker_admin_without_mfa_is_sent_to_set_it_up(broker_admin, client_at):
    client = client_at("alpha.localhost")
    sign_in(client, broker_admin.email)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/"


def test_broker_admin_with_mfa_passes_the_totp_step_and_reaches_the_admin(tenant, client_at):
    admin = make_member(tenant, "mfa-admin@alpha.example", Membership.Role.BROKER_ADMIN)
    secret = pyotp.random_base32()
    TOTP.activate(admin, secret)
    client = client_at("alpha.localhost")
    response = sign_in(client, admin.email)
    assert response["Location"] == "/accounts/2fa/authenticate/"
    response = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_end_user_cannot_reach_the_admin(member, client_at):
    client = client_at("alpha.localhost")
    sign_in(client, member.email)
    response = client.get("/admin/")
    assert response.status_code == 302 and re.search(r"/admin/login/", response["Location"])


def test_the_admins_sign_in_sends_staff_to_the_portals_sign_in_and_back_after_totp(tenant, client_at):
    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    secret = pyotp.random_base32()
    TOTP.activate(admin, secret)
    client = client_at("alpha.localhost")
    login = client.get("/admin/login/?next=/admin/withdrawals/withdrawal/")
    assert login.status_code == 302
    assert login["Location"] == "/accounts/login/?next=%2Fadmin%2Fwithdrawals%2Fwithdrawal%2F"
    assert client.get("/admin/login/?next=https://evil.example/")["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    response = client.post(login["Location"], {"login": admin.email, "password": "correct-horse-battery"})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    response = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response["Location"] == "/admin/withdrawals/withdrawal/"
    assert client.get(response["Location"]).status_code == 200
