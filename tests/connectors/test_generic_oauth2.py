"""The generic provider, described only by data, connects to an RFC 6749/7636 server (the sandbox's Kraken)."""

import pytest

from connectors.models import ExchangeConnection, ExchangeCredential
from sandbox.exchanges import KRAKEN_SCOPES
from sandbox.models import AuthorizationCode
from sandbox.services import client_register

from .helpers import query_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def generic_credential(portal):
    base = portal["url"]
    redirect_uri = f"{base}/connect/oauth2/callback/"
    client_register(
        exchange="kraken",
        client_id="generic-client",
        client_secret="generic-secret",
        redirect_uris=[redirect_uri],
        permissions=KRAKEN_SCOPES,
    )
    return ExchangeCredential.objects.create(
        tenant=portal["tenant"],
        exchange="oauth2",
        client_id="generic-client",
        client_secret="generic-secret",
        redirect_uris=[redirect_uri],
        allowed_permissions=["account.info:basic", "account.fast-api-key:read"],
        default_permissions=["account.info:basic"],
        authorize_base_url=f"{base}/sandbox/kraken",
        api_base_url=f"{base}/sandbox/kraken",
        settings={
            "authorize_url": f"{base}/sandbox/kraken/oauth/authorize",
            "token_url": f"{base}/sandbox/kraken/oauth/token",
            "client_auth": "basic",
            "scope_delimiter": " ",
            "pkce": True,
        },
    )


def test_generic_provider_connects_with_pkce_and_basic_auth_from_data_alone(
    browser_session, generic_credential, sandbox_accounts
):
    authorize_url = browser_session.start_connect("oauth2", ["account.info:basic", "account.fast-api-key:read"])
    params = query_of(authorize_url)
    assert authorize_url.startswith(generic_credential.settings["authorize_url"] + "?")
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["scope"] == "account.info:basic account.fast-api-key:read"

    account = sandbox_accounts["kraken"]["trader"]
    callback = browser_session.consent(authorize_url, account["email"], account["password"])
    # The sandbox saw the challenge, so the token call had to carry the matching verifier.
    assert AuthorizationCode.objects.get(code=query_of(callback)["code"]).code_challenge == params["code_challenge"]
    response = browser_session.session.get(callback, allow_redirects=False)
    assert response.status_code == 302, response.text[:1000]
    connection = ExchangeConnection.objects.get(exchange="oauth2")
    assert connection.status == "active" and connection.access_token and connection.refresh_token
    assert connection.api_key == ""  # a generic server has no Fast API key


def test_generic_provider_with_body_client_auth_is_refused_by_a_basic_only_server(
    browser_session, generic_credential, sandbox_accounts
):
    generic_credential.settings = {**generic_credential.settings, "client_auth": "body"}
    generic_credential.save()
    account = sandbox_accounts["kraken"]["trader"]
    response = browser_session.connect("oauth2", account, ["account.info:basic"])
    assert response.status_code == 400 and "did not accept the authorization" in response.text
    assert not ExchangeConnection.objects.exists()
