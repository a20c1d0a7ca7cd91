import pytest
import requests

from sandbox.exchanges import KRAKEN_SCOPES, KUCOIN_AUTH_GROUPS
from sandbox.services import client_register, seed_accounts

from .support import (
    ALL_FUNDS,
    KRAKEN_REDIRECT,
    KUCOIN_BROKER_NAME,
    KUCOIN_REDIRECT,
    OKX_REDIRECT,
    PEATIO_REDIRECT,
    authorize_code,
    authorize_url,
    basic,
    kraken_url,
    token_call,
)


@pytest.fixture
def base(live_server):
    return live_server.url + "/sandbox"


@pytest.fixture
def accounts(transactional_db):
    described = seed_accounts(history_rows=30, seed=1)
    return {exchange: {user["email"].split("@")[0]: user for user in users} for exchange, users in described.items()}


@pytest.fixture
def clients(transactional_db):
    register = client_register
    return {
        "kucoin": register(
            exchange="kucoin",
            client_id="kc-broker",
            client_secret="kc-secret",
            redirect_uris=[KUCOIN_REDIRECT],
            permissions=KUCOIN_AUTH_GROUPS,
            broker_name=KUCOIN_BROKER_NAME,
        ),
        "okx": register(
            exchange="okx",
            client_id="okx-broker",
            client_secret="okx-secret",
            redirect_uris=[OKX_REDIRECT],
            permissions=["read_only", "trade", "fast_api"],
            ip_allowlist=["127.0.0.1"],
        ),
        "okx_public": register(
            exchange="okx",
            client_id="okx-app",
            client_secret="",
            client_type="public",
            redirect_uris=[OKX_REDIRECT],
            permissions=["read_only", "trade", "fast_api"],
        ),
        "kraken": register(
            exchange="kraken",
            client_id="kraken-broker",
            client_secret="kraken-secret",
            redirect_uris=[KRAKEN_REDIRECT],
            permissions=KRAKEN_SCOPES,
        ),
        "kraken_public": register(
            exchange="kraken",
            client_id="kraken-app",
            client_secret="",
            client_type="public",
            redirect_uris=[KRAKEN_REDIRECT],
            permissions=KRAKEN_SCOPES,
        ),
        "peatio": register(
            exchange="peatio",
            client_id="peatio-broker",
            client_secret="peatio-secret",
            redirect_uris=[PEATIO_REDIRECT],
            permissions=["profile", "history", "trade"],
        ),
    }


@pytest.fixture
def kucoin_tokens(base, accounts, clients):
    """A KuCoin token pair for trader@kucoin.sandbox, with every group (withdrawal too) approved on the page.
    The login and the token call are on KuCoin's www host, the token call a GET with the redirect URL unencoded."""

    def connect(account="trader", groups=None):
        user = accounts["kucoin"][account]
        url = (
            f"{base}/kucoin-www/oauth?response_type=code&client_id=kc-broker&redirect_uri={KUCOIN_REDIRECT}"
            "&scope=OAUTH_CREATE_API&state=s1"
        )
        code = authorize_code(url, user["email"], user["password"], scopes=groups or KUCOIN_AUTH_GROUPS)["code"]
        response = requests.get(
            f"{base}/kucoin-www/_oauth/access-token?grant_type=authorization_code&code={code}"
            f"&client_id=kc-broker&redirect_uri={KUCOIN_REDIRECT}"
        )
        assert response.status_code == 200, response.text
        return response.json()

    return connect


@pytest.fixture
def kucoin_key(base, kucoin_tokens):
    """A FastAPI 2.0 key whose authGroupMap is what the user approved (``groups``, default all)."""

    def create(account="trader", groups=None, addressbook_only=False):
        groups = groups or KUCOIN_AUTH_GROUPS
        tokens = kucoin_tokens(account, groups)
        response = requests.post(
            f"{base}/kucoin-www/_oauth/resource/cyber-truck-vault/v2/outer/api-key/add",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            json={
                "authGroupMap": {group: group in groups for group in KUCOIN_AUTH_GROUPS},
                "isAddressbookOnly": addressbook_only,
            },
        )
        assert response.json()["success"] is True, response.text
        return response.json()["data"]

    return create


@pytest.fixture
def kraken_token(base, accounts, clients):
    def connect(scope=ALL_FUNDS, account="trader"):
        user = accounts["kraken"][account]
        code = authorize_code(kraken_url(base, scope=scope), user["email"], user["password"])["code"]
        return requests.post(
            f"{base}/kraken/oauth/token",
            headers=basic("kraken-broker", "kraken-secret"),
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": KRAKEN_REDIRECT},
        ).json()["access_token"]

    return connect


@pytest.fixture
def okx_tokens(base, accounts, clients):
    def connect(scope="fast_api", account="trader", client_id="okx-broker"):
        user = accounts["okx"][account]
        code = authorize_code(authorize_url(base, scope=scope, client_id=client_id), user["email"], user["password"])[
            "code"
        ]
        response = token_call(base, code, client_id=client_id)
        assert response.status_code == 200, response.text
        return response.json()

    return connect


@pytest.fixture
def peatio_token(base, accounts, clients):
    def connect(scope="profile+history"):
        user = accounts["peatio"]["trader"]
        url = (
            f"{base}/peatio/oauth/authorize?client_id=peatio-broker&redirect_uri={PEATIO_REDIRECT}"
            f"&response_type=code&scope={scope}"
        )
        code = authorize_code(url, user["email"], user["password"])["code"]
        return requests.post(
            f"{base}/peatio/oauth/token",
            data={
                "client_id": "peatio-broker",
                "client_secret": "peatio-secret",
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": PEATIO_REDIRECT,
            },
        ).json()

    return connect
