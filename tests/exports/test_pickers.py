"""The staff's export page at a broker's scale: users and connections are searched and paged, never all
rendered, and the page costs the same queries for a tenant of one connection or of fifty thousand."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from broker_portal.models import Membership
from connectors.models import ExchangeConnection
from exports.models import ExportJob
from exports.selectors import PICKER_PAGE
from tests.helpers import make_member

from .helpers import post_export

pytestmark = pytest.mark.django_db

# The tenant's host, the session, the user, their membership, the MFA check, a page of connections (with their
# users), the oldest synced moment for the default range (one aggregate), their sync states, the recent jobs.
EXPORT_PAGE_QUERIES = 9


def add_connections(tenant, count, start=0):
    for n in range(start, start + count):
        user = make_member(tenant, f"user{n:03}@alpha.example")
        ExchangeConnection.objects.create(tenant=tenant, user=user, exchange="kucoin", exchange_account_id=f"a{n}")


def page_queries(client, path="/exports/") -> tuple[list[str], str]:
    with CaptureQueriesContext(db_connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries], response.content.decode()


def test_the_staff_export_page_costs_the_same_exact_queries_and_size_for_any_tenant(staff_client, tenant):
    client, _ = staff_client()
    add_connections(tenant, 1)
    client.get("/exports/")
    few, small_page = page_queries(client)
    add_connections(tenant, PICKER_PAGE * 2, start=1)
    many, big_page = page_queries(client)
    assert len(few) == len(many) == EXPORT_PAGE_QUERIES, "\n".join(many)
    assert big_page.count("<option") == small_page.count("<option")  # no user or connection listed in the form
    assert big_page.count('<tr class="coverage continues"') == PICKER_PAGE and 'rel="next"' in big_page


def test_the_synced_history_list_searches_and_pages(staff_client, tenant):
    client, _ = staff_client()
    add_connections(tenant, PICKER_PAGE + 3)
    _, second = page_queries(client, "/exports/?page=2")
    assert second.count('<tr class="coverage continues"') == 3 and "user020@alpha.example" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    _, found = page_queries(client, "/exports/?q=user007")
    assert "user007@alpha.example" in found and "user008@alpha.example" not in found
    _, none = page_queries(client, "/exports/?q=nobody")
    assert "No connection matches." in none


def test_the_pickers_answer_a_page_of_the_tenants_own_matches(staff_client, tenant, other_tenant):
    client, _ = staff_client()
    add_connections(tenant, PICKER_PAGE + 2)
    stranger = make_member(other_tenant, "user999@beta.example")
    ExchangeConnection.objects.create(tenant=other_tenant, user=stranger, exchange="okx")
    users = client.get("/exports/pick/users", {"q": "user"}).json()
    assert len(users["results"]) == PICKER_PAGE and users["next_page"] == 2
    rest = client.get("/exports/pick/users", {"q": "user", "page": 2}).json()
    assert [row["value"] for row in rest["results"]] == ["user020@alpha.example", "user021@alpha.example"]
    assert rest["next_page"] is None
    connections = client.get("/exports/pick/connections", {"q": "user00"}).json()["results"]
    assert len(connections) == 10 and all(row["value"].startswith("#") for row in connections)
    assert not client.get("/exports/pick/connections", {"q": "beta"}).json()["results"]
    assert client.get("/exports/pick/tenants").status_code == 404


def test_members_have_no_picker(client_at, member):
    client = client_at("alpha.localhost")
    client.force_login(member)
    assert client.get("/exports/pick/users", {"q": "a"}).status_code == 404


def test_a_picked_user_or_connection_scopes_the_export_and_a_stranger_is_a_form_error(
    staff_client, tenant, other_tenant, django_capture_on_commit_callbacks
):
    client, _ = staff_client()
    add_connections(tenant, 2)
    picked = ExchangeConnection.objects.get(user__email="user001@alpha.example")
    with django_capture_on_commit_callbacks():
        assert post_export(client, scope="user", user="USER000@alpha.example", allow_empty="on").status_code == 302
        label = client.get("/exports/pick/connections", {"q": "user001"}).json()["results"][0]["value"]
        assert post_export(client, scope="connection", connection=label, allow_empty="on").status_code == 302
    jobs = ExportJob.objects.order_by("pk")[:2]
    assert [job.scope_user.email if job.scope_user else job.scope_connection for job in jobs] == [
        "user000@alpha.example",
        picked,
    ]
    # What was typed into the other scope's picker is no error.
    with django_capture_on_commit_callbacks():
        assert (
            post_export(client, scope="tenant", user="half-typed", connection="#x", allow_empty="on").status_code == 302
        )
    assert ExportJob.objects.count() == 3
    make_member(other_tenant, "outsider@beta.example", Membership.Role.MEMBER)
    refused = post_export(client, scope="user", user="outsider@beta.example")
    assert refused.status_code == 200 and "No user of this broker has this email." in refused.content.decode()
    assert ExportJob.objects.count() == 3
