"""The generic provider against a standards-compliant authorization server of our own (django-oauth-toolkit in
its own process, tests/oauth_server), for confidential clients with HTTP Basic or body authentication and for a
public client: discovery, connect, userinfo, refresh with rotation, revocation, and the RFC 9207 issuer check."""

import urllib.parse

import pytest
import requests

from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.oauth2.credential import test_connection as read_metadata
from connectors.oauth2.metadata import DiscoveryFailed, discover, metadata_urls
from connectors.token_refresh import Outcome, connection_refresh

from .helpers import PortalBrowser, csrf_token, query_of

pytestmark = pytest.mark.django_db(transaction=True)
KINDS = ["basic", "body", "public"]


def generic_credential(tenant, server, kind: str, server_slug: str = "", **settings) -> ExchangeCredential:
    client = server.clients[kind]
    # The metadata lists the methods the server takes; which one a client registered is the admin's to enter.
    registered = {"client_auth": "body"} if kind == "body" else {}
    stored, _ = read_metadata({"issuer": server.issuer, **registered, **settings})
    return ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="oauth2",
        client_id=client["client_id"],
        client_secret=client.get("client_secret", ""),
        client_type=client["client_type"],
        server_slug=server_slug,
        redirect_uris=[server.redirect_uri_of(server_slug) if server_slug else server.redirect_uri],
        allowed_permissions=["read", "trade", "email"],
        default_permissions=["read", "email"],
        authorize_base_url=server.issuer,
        api_base_url=server.issuer,
        settings=stored,
    )


@pytest.fixture
def signed_in(portal):
    browser = PortalBrowser(portal["url"])
    browser.sign_in(portal["user"].email)
    return browser


def connect(browser, server, permissions=("read", "email")) -> requests.Response:
    authorize_url = browser.start_connect("oauth2", list(permissions))
    callback = server.sign_in_and_consent(browser.session, authorize_url)
    return browser.session.get(callback, allow_redirects=False)


def userinfo(server, access_token: str) -> requests.Response:
    return requests.get(f"{server.issuer}/userinfo/", headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


def token_request(server, kind: str, data: dict) -> requests.Response:
    """A call to the server's token endpoint as the client registered to authenticate."""
    client = server.clients[kind]
    if kind == "basic":
        return requests.post(
            f"{server.issuer}/token/", data=data, auth=(client["client_id"], client["client_secret"]), timeout=10
        )
    secret = {"client_secret": client["client_secret"]} if kind == "body" else {}
    return requests.post(
        f"{server.issuer}/token/", data={**data, "client_id": client["client_id"], **secret}, timeout=10
    )


def test_discovery_reads_rfc8414_metadata_at_the_issuers_path_and_oidc_for_userinfo(authorization_server):
    server = authorization_server
    found = discover(server.issuer)
    # RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    assert metadata_urls(server.issuer)[0] == f"{server.origin}/.well-known/oauth-authorization-server/o"
    assert found["metadata_urls"] == metadata_urls(server.issuer)
    assert found["authorize_url"] == f"{server.issuer}/authorize/"
    assert found["token_url"] == f"{server.issuer}/token/"
    assert found["revoke_url"] == f"{server.issuer}/revoke_token/"
    assert found["userinfo_url"] == f"{server.issuer}/userinfo/"  # only OpenID Connect discovery names it
    assert set(found["scopes_supported"]) == {"openid", "email", "read", "trade"}
    assert "S256" in found["code_challenge_methods_supported"]
    assert set(found["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert found["iss_parameter_supported"] is True


def test_discovery_refuses_metadata_of_another_issuer(authorization_server):
    # The server's documents name ".../o"; asked as ".../o/", they describe another issuer (RFC 8414 §3.3).
    with pytest.raises(DiscoveryFailed, match="describes the issuer"):
        discover(authorization_server.issuer + "/")


@pytest.mark.parametrize("kind", KINDS)
def test_connect_userinfo_refresh_rotation_and_revocation(portal, signed_in, authorization_server, kind):
    server = authorization_server
    generic_credential(portal["tenant"], server, kind)
    authorize_url = signed_in.start_connect("oauth2", ["read", "email"])
    params = query_of(authorize_url)
    assert authorize_url.startswith(f"{server.issuer}/authorize/?")
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["scope"].split() == ["openid", "read", "email"]  # openid: the account id is read at userinfo
    callback = server.sign_in_and_consent(signed_in.session, authorize_url)
    assert query_of(callback)["iss"] == server.issuer
    response = signed_in.session.get(callback, allow_redirects=False)
    assert response.status_code == 302, response.text[:1000]

    connection = ExchangeConnection.objects.get(exchange="oauth2")
    sub = userinfo(server, connection.access_token).json()["sub"]
    assert connection.exchange_account_id == sub and connection.details["email"] == server.user["email"]
    assert connection.status == "active" and connection.refresh_token
    dashboard = signed_in.session.get(f"{portal['url']}/")
    assert f"Account {server.user['email']}" in dashboard.text

    old_access, old_refresh = connection.access_token, connection.refresh_token
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
    connection.refresh_from_db()
    assert connection.refresh_token != old_refresh and connection.access_token != old_access  # rotated
    assert userinfo(server, connection.access_token).status_code == 200
    refused = token_request(server, kind, {"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    access_token = connection.access_token
    page = signed_in.session.get(f"{portal['url']}/")
    disconnected = signed_in.session.post(
        f"{portal['url']}/connect/oauth2/{connection.pk}/disconnect/",
        data={"csrfmiddlewaretoken": csrf_token(page.text)},
    )
    assert disconnected.status_code == 200 and "its access tokens are erased here" in disconnected.text
    connection.refresh_from_db()
    assert connection.status == "revoked" and connection.access_token == ""
    # Revoking the refresh token (RFC 7009 §2.1) ended its access token at the server too.
    assert userinfo(server, access_token).status_code == 401


def test_the_same_account_is_not_connected_twice(portal, signed_in, authorization_server):
    generic_credential(portal["tenant"], authorization_server, "basic")
    assert connect(signed_in, authorization_server).status_code == 302
    second = connect(signed_in, authorization_server)
    assert second.status_code == 400
    assert f"account {authorization_server.user['email']} is already connected" in second.text
    assert ExchangeConnection.objects.filter(exchange="oauth2").count() == 1


def test_a_confidential_client_uses_its_registered_method_only(portal, signed_in, authorization_server):
    # portal-body is registered for client_secret_post: Basic is refused by the server.
    generic_credential(portal["tenant"], authorization_server, "body", client_auth="basic")
    response = connect(signed_in, authorization_server)
    assert response.status_code == 400 and "invalid_client" in response.text
    assert not ExchangeConnection.objects.exists()


@pytest.mark.parametrize("forged", ["http://127.0.0.1:1/o", None], ids=["other-issuer", "no-iss"])
def test_an_authorization_response_with_a_forged_or_missing_iss_is_refused(
    portal, signed_in, authorization_server, forged
):
    generic_credential(portal["tenant"], authorization_server, "basic")
    callback = authorization_server.sign_in_and_consent(signed_in.session, signed_in.start_connect("oauth2", ["read"]))
    params = {key: value for key, value in query_of(callback).items() if key != "iss"}
    if forged:
        params["iss"] = forged
    response = signed_in.session.get(
        callback.split("?")[0] + "?" + urllib.parse.urlencode(params), allow_redirects=False
    )
    assert response.status_code == 400 and "did not come from the exchange it was sent to" in response.text
    assert not ExchangeConnection.objects.exists()


def test_the_servers_error_description_is_shown_escaped(portal, signed_in, authorization_server):
    # PKCE off: the server requires a code challenge and says so in its own words.
    generic_credential(portal["tenant"], authorization_server, "basic", pkce=False)
    authorize_url = signed_in.start_connect("oauth2", ["read"])
    assert "code_challenge" not in query_of(authorize_url)
    callback = authorization_server.sign_in_and_consent(signed_in.session, authorize_url)
    response = signed_in.session.get(callback, allow_redirects=False)
    assert response.status_code == 400, callback
    assert "did not authorize the connection (invalid_request: Code challenge required" in response.text

    state = query_of(signed_in.start_connect("oauth2", ["read"]))["state"]
    crafted = urllib.parse.urlencode(
        {
            "error": "server_error",
            "error_description": "<b>down</b>",
            "state": state,
            "iss": authorization_server.issuer,
        }
    )
    response = signed_in.session.get(f"{portal['url']}/connect/oauth2/callback/?{crafted}", allow_redirects=False)
    assert response.status_code == 400
    assert "server_error: &lt;b&gt;down&lt;/b&gt;" in response.text and "<b>down</b>" not in response.text


@pytest.mark.parametrize(
    "settings",
    [{}, {"authorize_url": "https://auth.example/authorize"}, {"issuer": "https://auth.example", "discovered": {}}],
    ids=["empty", "no-token-endpoint", "issuer-without-metadata"],
)
def test_an_incomplete_configuration_gives_a_clear_page_not_a_500(portal, signed_in, settings):
    ExchangeCredential.objects.create(
        tenant=portal["tenant"],
        exchange="oauth2",
        client_id="any",
        redirect_uris=[f"{portal['url']}/cb/"],
        allowed_permissions=["read"],
        authorize_base_url="https://auth.example",
        api_base_url="https://auth.example",
        settings=settings,
    )
    page = signed_in.session.get(f"{portal['url']}/connect/oauth2/")
    assert page.status_code == 503 and "setup needs fixing" in page.text
    assert "token endpoint configured" in page.text
    callback = signed_in.session.get(f"{portal['url']}/connect/oauth2/callback/?code=x&state=y")
    assert callback.status_code == 400
    assert signed_in.session.get(f"{portal['url']}/").status_code == 200


ADD_URL = "/admin/connectors/exchangecredential/add/"


def admin_form(server, **fields) -> dict:
    """The credential form as a broker admin fills it for the generic provider: the issuer and little else."""
    return {
        "exchange": "oauth2",
        "is_enabled": "on",
        "client_id": "portal-basic",
        "client_type": "confidential",
        "new_client_secret": "portal-basic-secret",
        "redirect_uris": server.redirect_uri,
        "allowed_permissions": "read\nemail",
        "default_permissions": "read",
        "authorize_base_url": "",
        "api_base_url": "",
        "service_ip_list": "",
        "trading_ip_list": "",
        "settings": "{}",
        "oauth2_issuer": server.issuer,
        "oauth2_pkce": "on",
        "oauth2_display_name": "Broker ID",
        **fields,
    }


def test_the_admin_form_discovers_the_server_from_its_issuer(admin_client, tenant, authorization_server):
    server = authorization_server
    response = admin_client.post(ADD_URL, admin_form(server))
    assert response.status_code == 302, response.context["adminform"].form.errors
    credential = ExchangeCredential.objects.get(tenant=tenant, exchange="oauth2")
    assert credential.settings["issuer"] == server.issuer and credential.settings["pkce"] is True
    assert credential.settings["display_name"] == "Broker ID"
    assert credential.settings["discovered"]["token_url"] == f"{server.issuer}/token/"
    assert credential.authorize_base_url == credential.api_base_url == server.issuer
    assert "portal-basic-secret" not in str(credential.settings)


@pytest.mark.parametrize(
    "fields, errors",
    [
        ({"oauth2_issuer": ""}, {"oauth2_authorize_url", "oauth2_token_url"}),
        ({"oauth2_issuer": "", "oauth2_authorize_url": "https://auth.example/authorize"}, {"oauth2_token_url"}),
        ({"oauth2_issuer": "http://127.0.0.1:1/o"}, {"oauth2_issuer"}),
        ({"allowed_permissions": "read\nwithdraw"}, {"allowed_permissions"}),
        ({"default_permissions": "trade"}, {"default_permissions"}),
    ],
    ids=["nothing", "no-token-endpoint", "unreachable-issuer", "unsupported-scope", "default-not-allowed"],
)
def test_the_admin_form_refuses_what_cannot_connect(admin_client, authorization_server, fields, errors):
    response = admin_client.post(ADD_URL, admin_form(authorization_server, **fields))
    assert response.status_code == 200
    assert errors <= set(response.context["adminform"].form.errors), response.context["adminform"].form.errors
    assert not ExchangeCredential.objects.filter(exchange="oauth2").exists()


def test_hand_entered_values_win_over_the_metadata(admin_client, tenant, authorization_server):
    server = authorization_server
    response = admin_client.post(
        ADD_URL,
        admin_form(server, oauth2_revoke_url="", oauth2_client_auth="body", oauth2_scopes_supported="read email"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    from connectors.socialaccount import app_from_credential

    settings = app_from_credential(ExchangeCredential.objects.get(tenant=tenant, exchange="oauth2")).settings
    assert settings["client_auth"] == "body" and settings["scopes_supported"] == ["read", "email"]
    assert settings["revoke_url"] == f"{server.issuer}/revoke_token/"  # left empty: the metadata's
    assert settings["authorization_response_iss_parameter_supported"] is True


def test_the_test_connection_action_reports_what_the_metadata_says(admin_client, tenant, authorization_server):
    credential = generic_credential(tenant, authorization_server, "basic")
    credential.settings = {"issuer": authorization_server.issuer}
    credential.save()
    response = admin_client.post(
        "/admin/connectors/exchangecredential/",
        {"action": "test_connection", "_selected_action": [credential.pk]},
        follow=True,
    )
    shown = [str(message) for message in response.context["messages"]]
    assert any(
        f"token {authorization_server.issuer}/token/" in message and "iss in authorization responses: yes" in message
        for message in shown
    ), shown
    credential.refresh_from_db()
    assert credential.settings["discovered"]["userinfo_url"] == f"{authorization_server.issuer}/userinfo/"


def test_the_authorization_server_imports_nothing_of_the_portal():
    import ast
    from pathlib import Path

    portal = {"broker_portal", "connectors", "withdrawals", "exports", "api", "sandbox"}
    for source in (Path(__file__).resolve().parents[1] / "oauth_server").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not {name.split(".")[0] for name in names} & portal, (source.name, names)


def test_several_servers_per_tenant_each_with_its_own_connect_button(portal, signed_in, authorization_server):
    server = authorization_server
    generic_credential(portal["tenant"], server, "basic", server_slug="alpha-id", display_name="Alpha ID")
    generic_credential(portal["tenant"], server, "body", server_slug="beta-id", display_name="Beta ID")
    dashboard = signed_in.session.get(f"{portal['url']}/").text
    assert 'href="/connect/oauth2/alpha-id/">Connect Alpha ID' in dashboard
    assert 'href="/connect/oauth2/beta-id/">Connect Beta ID' in dashboard

    for slug in ("alpha-id", "beta-id"):
        authorize_url = signed_in.start_connect(f"oauth2/{slug}", ["read", "email"])
        assert query_of(authorize_url)["redirect_uri"] == server.redirect_uri_of(slug)
        callback = server.sign_in_and_consent(signed_in.session, authorize_url)
        assert signed_in.session.get(callback, allow_redirects=False).status_code == 302
    # The same account at the two servers: two connections, one per server.
    connections = ExchangeConnection.objects.filter(exchange="oauth2").order_by("server_slug")
    assert [c.server_slug for c in connections] == ["alpha-id", "beta-id"]
    assert connections[0].exchange_account_id == connections[1].exchange_account_id
    dashboard = signed_in.session.get(f"{portal['url']}/").text
    assert dashboard.count(f"Account {server.user['email']}") == 2

    alpha, beta = connections
    assert connection_refresh(connection_id=beta.pk, force=True).outcome == Outcome.REFRESHED  # with beta's client
    disconnected = signed_in.session.post(
        f"{portal['url']}/connect/oauth2/{beta.pk}/disconnect/", data={"csrfmiddlewaretoken": csrf_token(dashboard)}
    )
    assert "Beta ID is disconnected" in disconnected.text
    alpha.refresh_from_db(), beta.refresh_from_db()
    assert (alpha.status, beta.status) == ("active", "revoked")
    assert userinfo(server, alpha.access_token).status_code == 200


def test_a_flow_started_for_one_server_does_not_end_at_another(portal, signed_in, authorization_server):
    server = authorization_server
    generic_credential(portal["tenant"], server, "basic", server_slug="alpha-id")
    generic_credential(portal["tenant"], server, "basic", server_slug="beta-id")
    callback = server.sign_in_and_consent(signed_in.session, signed_in.start_connect("oauth2/alpha-id", ["read"]))
    elsewhere = callback.replace("/oauth2/alpha-id/callback/", "/oauth2/beta-id/callback/")
    response = signed_in.session.get(elsewhere, allow_redirects=False)
    assert response.status_code == 400 and "was not started here" in response.text
    assert not ExchangeConnection.objects.exists()


def test_server_slugs_are_unique_per_tenant_and_only_for_the_generic_provider(
    admin_client, tenant, authorization_server
):
    form = admin_form(authorization_server, server_slug="alpha-id")
    assert admin_client.post(ADD_URL, form).status_code == 302
    assert admin_client.post(ADD_URL, admin_form(authorization_server)).status_code == 302  # the one without slug
    again = admin_client.post(ADD_URL, form)
    assert again.status_code == 200 and "already has a server with this slug" in again.content.decode()
    kucoin = admin_client.post(
        ADD_URL,
        {
            **form,
            "exchange": "kucoin",
            "authorize_base_url": "https://www.kucoin.test",
            "api_base_url": "https://api.kucoin.test",
        },
    )
    assert kucoin.status_code == 200 and "server_slug" in kucoin.context["adminform"].form.errors
    assert ExchangeCredential.objects.filter(tenant=tenant).count() == 2


PNG_LOGO = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)


def test_a_servers_logo_uploaded_in_the_admin_is_on_its_card_and_served_at_its_tenant_only(
    admin_client, tenant, other_tenant, member, client_at, authorization_server
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin_client.post(
        ADD_URL,
        admin_form(authorization_server, server_slug="alpha-id", logo=SimpleUploadedFile("alpha.png", PNG_LOGO)),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    credential = ExchangeCredential.objects.get(tenant=tenant, server_slug="alpha-id")
    logo_url = f"/branding/exchanges/{credential.pk}/logo"

    member_client = client_at("alpha.localhost")
    member_client.force_login(member)
    dashboard = member_client.get("/").content.decode()
    card = dashboard[dashboard.index('data-server="alpha-id"') :]
    assert card.index(f'<img src="{logo_url}"') < card.index("Connect Broker ID")
    served = member_client.get(logo_url)
    assert (served.status_code, served["Content-Type"]) == (200, "image/png")
    assert b"".join(served.streaming_content) == PNG_LOGO
    assert client_at("beta.localhost").get("/").status_code == 302  # the other tenant's portal, to sign in
    assert client_at("beta.localhost").get(logo_url).status_code == 404

    refused = admin_client.post(
        f"/admin/connectors/exchangecredential/{credential.pk}/change/",
        admin_form(
            authorization_server, server_slug="alpha-id", logo=SimpleUploadedFile("alpha.png", b"<html>hi</html>")
        ),
    )
    assert "logo" in refused.context["adminform"].form.errors
    credential.refresh_from_db()
    assert credential.logo.read() == PNG_LOGO
