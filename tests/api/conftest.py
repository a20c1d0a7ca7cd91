import pytest
from rest_framework.test import APIClient

from api.tokens import api_token_create
from connectors.models import ExchangeConnection


@pytest.fixture
def token_key(tenant, member):
    return api_token_create(tenant=tenant, user=member, name="back office")[1]


@pytest.fixture
def api(token_key):
    client = APIClient(HTTP_HOST="alpha.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_key}")
    return client


@pytest.fixture
def connections(tenant, other_tenant, member):
    from tests.conftest import make_member

    stranger = make_member(other_tenant, "stranger@beta.example")
    neighbour = make_member(tenant, "neighbour@alpha.example")
    return {
        "own": ExchangeConnection.objects.create(tenant=tenant, user=member, exchange="kucoin",
                                                 access_token="own-access-token", api_key="own-api-key-123456"),
        "neighbour": ExchangeConnection.objects.create(tenant=tenant, user=neighbour, exchange="okx"),
        "foreign": ExchangeConnection.objects.create(tenant=other_tenant, user=stranger, exchange="kraken"),
    }
