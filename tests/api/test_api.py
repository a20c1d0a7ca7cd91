import urllib.parse

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken
from api.tokens import api_token_create, api_token_revoke
from broker_portal.models import AuditEvent, Membership
from connectors.models import ExchangeConnection, ExchangeCredential
from tests.helpers import make_member

pytestmark = pytest.mark.django_db


def test_tokens_are_hashed_at_rest_and_bound_to_their_tenant(token_key, other_tenant, member, connections):
    assert token_key not in str(list(ApiToken.objects.values_list()))
    foreign_host = APIClient(HTTP_HOST="beta.localhost")
    foreign_host.credentials(HTTP_AUTHORIZATION=f"Bearer {token_key}")
    response = foreign_host.get("/api/v1/connections/")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "authentication_failed", "message": "Invalid or revoked API token."}}


def test_a_revoked_token_stops_working(api, token_key, member, connections):
    assert api.get("/api/v1/connections/").status_code == 200
    api_token_revoke(token=ApiToken.objects.get())
    assert api.get("/api/v1/connections/").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked").exists()


def test_lists_show_only_the_callers_own_rows_with_constant_queries(api, tenant, member, connections):
    response = api.get("/api/v1/connections/")
    assert [row["id"] for row in response.json()["results"]] == [connections["own"].pk]
    body = response.content.decode()
    assert "own-access-token" not in body and "own-api-key-123456" not in body
    for _ in range(5):
        ExchangeConnection.objects.create(
            tenant=tenant, user=member, exchange="peatio", exchange_account_id=f"acct-{_}"
        )
    with CaptureQueriesContext(db_connection) as queries:
        assert len(api.get("/api/v1/connections/").json()["results"]) == 6
    # Tenant, token, membership (is the caller staff who must set up MFA first?), count, rows.
    assert len(queries) <= 5, "\n".join(q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize("which", ["neighbour", "foreign"])
@pytest.mark.parametrize("path", ["{}/", "{}/balances/", "{}/refresh/", "{}/disconnect/"])
def test_other_peoples_ids_are_not_found(api, connections, which, path):
    url = "/api/v1/connections/" + path.format(connections[which].pk)
    response = api.post(url) if path.endswith(("refresh/", "disconnect/")) else api.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    missing = api.get("/api/v1/connections/999999/")
    assert missing.status_code == 404 and missing.json() == response.json() or path != "{}/"


def test_audit_events_are_for_broker_admins_of_the_tenant_only(tenant, other_tenant, api, connections):
    assert api.get("/api/v1/audit-events/").status_code == 403
    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")
    make_member(other_tenant, "boss@beta.example", Membership.Role.BROKER_ADMIN)
    client = APIClient(HTTP_HOST="alpha.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=admin, name='x')[1]}")
    actions = {row["action"] for row in client.get("/api/v1/audit-events/").json()["results"]}
    assert "member.created" in actions
    own_ids = set(AuditEvent.objects.filter(tenant=tenant, action="member.created").values_list("id", flat=True))
    assert AuditEvent.objects.filter(action="member.created").exclude(tenant=tenant).exists()
    listed = client.get("/api/v1/audit-events/?action=member.created").json()["results"]
    assert {row["id"] for row in listed} == own_ids


def test_starting_a_connect_with_a_token_points_to_the_portal_page(api, tenant):
    ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="kraken",
        client_id="k",
        redirect_uris=["http://alpha.localhost/connect/kraken/callback/"],
        allowed_permissions=["account.info:basic"],
        authorize_base_url="https://id.kraken.test",
        api_base_url="https://api.kraken.test",
    )
    response = api.post("/api/v1/exchanges/kraken/connect/", {"permissions": ["account.info:basic"]}, format="json")
    assert response.json() == {"connect_url": "http://alpha.localhost/connect/kraken/"}
    session = APIClient(HTTP_HOST="alpha.localhost")
    session.force_login(Membership.objects.get(role="member").user)
    started = session.post("/api/v1/exchanges/kraken/connect/", {"permissions": ["account.info:basic"]}, format="json")
    # Kraken's page in the portal's language (en-us), one openapi_v3.yaml lists for /{language}/oauth/authorize.
    assert started.json()["authorize_url"].startswith("https://id.kraken.test/en-us/oauth/authorize?")
    refused = api.post("/api/v1/exchanges/kraken/connect/", {"permissions": ["account.everything"]}, format="json")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "refused"
    invalid = api.post("/api/v1/exchanges/kraken/connect/", {}, format="json")
    assert invalid.status_code == 400 and "permissions" in invalid.json()["error"]["fields"]


def test_throttling_answers_429_in_the_common_shape(api, connections, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "2/min", "tenant": "1000/min"})
    codes = [api.get("/api/v1/connections/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert api.get("/api/v1/connections/").json()["error"]["code"] == "throttled"


def test_the_openapi_schema_and_its_docs_page(tenant, client_at):
    schema = client_at("alpha.localhost").get("/api/schema/?format=json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    assert "/api/v1/connections/" in schema.json()["paths"]
    assert client_at("alpha.localhost").get("/api/docs/").status_code == 200


def test_staff_without_mfa_get_the_api_error_body_instead_of_the_api(tenant, api, client_at):
    mfa_required = {
        "error": {
            "code": "mfa_required",
            "message": "Set up two-factor authentication in the portal before you use the API.",
        }
    }
    for role in (Membership.Role.ACCOUNTANT, Membership.Role.BROKER_ADMIN):
        staff = make_member(tenant, f"{role}-nomfa@alpha.example", role)
        with_token = APIClient(HTTP_HOST="alpha.localhost")
        with_token.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=staff, name='x')[1]}")
        with_session = APIClient(HTTP_HOST="alpha.localhost")
        with_session.force_login(staff)
        for client in (with_token, with_session):
            for path in (
                "/api/v1/exports/",
                "/api/v1/exports/1/download/",
                "/api/v1/connections/",
                "/api/v1/audit-events/",
            ):
                response = client.get(path)
                assert (response.status_code, response.json()) == (403, mfa_required), path
        # Nor do they make a token first: the token page sends them to set up MFA like the admin does.
        with_session_page = client_at("alpha.localhost")
        with_session_page.force_login(staff)
        assert with_session_page.get("/api/tokens/")["Location"] == "/accounts/2fa/totp/activate/"
        TOTP.activate(staff, "JBSWY3DPEHPK3PXPJBSWY3DP")
        assert with_token.get("/api/v1/exports/").status_code == 200
    # Members need no MFA for the API.
    assert api.get("/api/v1/connections/").status_code == 200


def generic_server(tenant, server_slug: str, **settings) -> ExchangeCredential:
    """One of the tenant's generic OAuth 2.0 servers, its endpoints entered by hand (no metadata to read)."""
    return ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="oauth2",
        server_slug=server_slug,
        client_id=f"portal-{server_slug}",
        client_type="public",
        redirect_uris=[f"http://alpha.localhost/connect/oauth2/{server_slug}/callback/"],
        allowed_permissions=["read"],
        default_permissions=["read"],
        authorize_base_url="https://id.broker.test",
        api_base_url="https://id.broker.test",
        settings={
            "authorize_url": f"https://id.broker.test/{server_slug}/authorize",
            "token_url": f"https://id.broker.test/{server_slug}/token",
            **settings,
        },
    )


def test_starting_a_connect_at_one_of_several_servers_names_it_by_its_slug(api, tenant, member):
    generic_server(tenant, "alpha-id")
    generic_server(tenant, "beta-id")
    started = api.post(
        "/api/v1/exchanges/oauth2/connect/", {"permissions": ["read"], "server": "beta-id"}, format="json"
    )
    assert started.json() == {"connect_url": "http://alpha.localhost/connect/oauth2/beta-id/"}
    session = APIClient(HTTP_HOST="alpha.localhost")
    session.force_login(member)
    authorize_url = session.post(
        "/api/v1/exchanges/oauth2/connect/", {"permissions": ["read"], "server": "beta-id"}, format="json"
    ).json()["authorize_url"]
    assert authorize_url.startswith("https://id.broker.test/beta-id/authorize?")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize_url).query)
    assert query["client_id"] == ["portal-beta-id"]
    assert query["redirect_uri"] == ["http://alpha.localhost/connect/oauth2/beta-id/callback/"]

    # No server of that slug here (nor one without a slug), and none for an exchange of one server: not found.
    for exchange, body in (("oauth2", {"server": "gamma-id"}), ("oauth2", {}), ("kraken", {"server": "alpha-id"})):
        response = api.post(f"/api/v1/exchanges/{exchange}/connect/", {"permissions": ["read"], **body}, format="json")
        assert response.status_code == 404, (exchange, body)
    invalid = api.post(
        "/api/v1/exchanges/oauth2/connect/", {"permissions": ["read"], "server": "no/slug"}, format="json"
    )
    assert invalid.status_code == 400 and "server" in invalid.json()["error"]["fields"]


def test_a_server_without_endpoints_refuses_the_connect_with_a_reason(api, tenant):
    generic_server(tenant, "alpha-id", authorize_url="", token_url="")
    response = api.post(
        "/api/v1/exchanges/oauth2/connect/", {"permissions": ["read"], "server": "alpha-id"}, format="json"
    )
    assert response.status_code == 422 and "no authorize and no token endpoint" in response.json()["error"]["message"]


def test_connections_name_their_server(api, tenant, member):
    plain = ExchangeConnection.objects.create(tenant=tenant, user=member, exchange="kraken")
    at_server = ExchangeConnection.objects.create(tenant=tenant, user=member, exchange="oauth2", server_slug="beta-id")
    listed = {row["id"]: row["server"] for row in api.get("/api/v1/connections/").json()["results"]}
    assert listed == {plain.pk: "", at_server.pk: "beta-id"}
    assert api.get(f"/api/v1/connections/{at_server.pk}/").json()["server"] == "beta-id"


def test_the_schema_documents_the_server_of_a_connect_and_of_a_connection(client_at, tenant):
    schema = client_at("alpha.localhost").get("/api/schema/?format=json").json()
    body = schema["paths"]["/api/v1/exchanges/{exchange}/connect/"]["post"]["requestBody"]
    start = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schemas = schema["components"]["schemas"]
    server = schemas[start]["properties"]["server"]
    assert (
        "slug" in server["description"]
        and {"type": "string", "default": "", "maxLength": 40, "pattern": "^[-a-zA-Z0-9_]+$"} in server["oneOf"]
    )
    assert "server" not in schemas[start].get("required", [])
    assert schemas["Connection"]["properties"]["server"]["readOnly"] is True
