"""Authorization code injection (RFC 9700 §4.5): PKCE wherever the server takes it, and where it cannot (OKX's Fast
API, KuCoin) no cache keeps the callback that carries the code."""

import pytest

from broker_portal.models import ExchangeCredential
from sandbox.exchanges import KRAKEN_SCOPES
from sandbox.services import client_register

from ..connectors.conftest import query_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_generic_provider_sends_pkce_unless_told_not_to(browser_session, portal):
    base = portal["url"]
    redirect_uri = f"{base}/connect/oauth2/callback/"
    client_register(exchange="kraken", client_id="generic-client", client_secret="generic-secret",
                    redirect_uris=[redirect_uri], permissions=KRAKEN_SCOPES)
    credential = ExchangeCredential.objects.create(
        tenant=portal["tenant"], exchange="oauth2", client_id="generic-client", client_secret="generic-secret",
        redirect_uris=[redirect_uri], allowed_permissions=["account.info:basic"], default_permissions=[],
        authorize_base_url=f"{base}/sandbox/kraken", api_base_url=f"{base}/sandbox/kraken",
        settings={"authorize_url": f"{base}/sandbox/kraken/oauth/authorize",
                  "token_url": f"{base}/sandbox/kraken/oauth/token", "client_auth": "basic"})
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
