"""A session belongs to the tenant it was signed in at, and works only while its user is a member there.

A member of Alpha who carries their own session cookie to Beta's host reaches nothing of Beta's (pages, API,
admin, connecting an exchange), and the session is ended; a removed membership ends a session and an API token
at the next request."""

import pytest
from django.conf import settings
from django.test import Client

from api.tokens import api_token_create
from broker_portal.models import AuditEvent, Membership
from tests.helpers import make_member

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
# What a signed-in member of the tenant reaches, and what anyone else must not.
BETA_PAGES = ["/", "/withdrawals/", "/api/tokens/", "/connect/kucoin/", "/admin/"]
BETA_API = ["/api/v1/connections/", "/api/v1/withdrawals/"]


def signed_in_at(host: str, email: str) -> Client:
    client = Client(HTTP_HOST=host)
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302 and client.get("/").status_code == 200, "sign-in at own tenant failed"
    return client


def carried_to(client: Client, host: str) -> Client:
    """The same session cookie, sent to another tenant's host."""
    other = Client(HTTP_HOST=host, raise_request_exception=False)
    other.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return other


def assert_reaches_nothing(client: Client):
    for path in BETA_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "login/" in response["Location"], path  # allauth's or the admin's
    for path in BETA_API:
        assert client.get(path).status_code in (401, 403), path


def test_a_session_carried_to_another_tenant_reaches_nothing_there_and_ends(tenant, other_tenant):
    member = make_member(tenant, "carrier@alpha.example")
    at_alpha = signed_in_at("alpha.localhost", member.email)
    at_beta = carried_to(at_alpha, "beta.localhost")

    assert at_beta.get("/").status_code == 302
    assert_reaches_nothing(at_beta)
    assert AuditEvent.objects.filter(tenant=other_tenant, action="account.session_refused", actor=member).exists()
    # The session is ended, not just refused: it no longer works at Alpha either.
    assert at_alpha.get("/").status_code == 302


def test_a_session_of_a_member_of_both_tenants_works_only_where_it_was_signed_in(tenant, other_tenant):
    member = make_member(tenant, "both@alpha.example")
    Membership.objects.create(tenant=other_tenant, user=member, role=Membership.Role.BROKER_ADMIN)
    at_alpha = signed_in_at("alpha.localhost", member.email)

    assert_reaches_nothing(carried_to(at_alpha, "beta.localhost"))
    assert AuditEvent.objects.get(tenant=other_tenant, action="account.session_refused").details == {
        "reason": "signed_in_at_another_tenant"
    }


def test_a_removed_membership_ends_the_session_at_the_next_request(tenant):
    member = make_member(tenant, "removed@alpha.example")
    client = signed_in_at("alpha.localhost", member.email)
    Membership.objects.filter(user=member, tenant=tenant).delete()

    response = client.get("/withdrawals/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get("/api/v1/connections/").status_code in (401, 403)


def test_a_session_without_a_tenant_works_only_where_its_user_is_a_member(tenant, other_tenant):
    # Sessions signed in before sessions were bound (and force_login's) carry no tenant.
    member = make_member(tenant, "unbound@alpha.example")
    at_beta = Client(HTTP_HOST="beta.localhost", raise_request_exception=False)
    at_beta.force_login(member)
    assert_reaches_nothing(at_beta)

    at_alpha = Client(HTTP_HOST="alpha.localhost")
    at_alpha.force_login(member)
    assert at_alpha.get("/").status_code == 200
    assert_reaches_nothing(carried_to(at_alpha, "beta.localhost"))


def test_an_api_token_stops_working_when_its_user_leaves_the_tenant(tenant):
    member = make_member(tenant, "token@alpha.example")
    _, key = api_token_create(tenant=tenant, user=member, name="ci")
    api = Client(HTTP_HOST="alpha.localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/connections/").status_code == 200

    Membership.objects.filter(user=member, tenant=tenant).delete()
    assert api.get("/api/v1/connections/").status_code == 401


def test_an_api_token_is_refused_at_another_tenant(tenant, other_tenant):
    member = make_member(tenant, "token2@alpha.example")
    Membership.objects.create(tenant=other_tenant, user=member, role=Membership.Role.MEMBER)
    _, key = api_token_create(tenant=tenant, user=member, name="ci")
    assert (
        Client(HTTP_HOST="beta.localhost", HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/connections/").status_code
        == 401
    )
