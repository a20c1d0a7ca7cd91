import pytest

from connectors.models import ExchangeConnection
from tests.helpers import make_member


@pytest.fixture
def connections(tenant, other_tenant, member):
    stranger = make_member(other_tenant, "stranger@beta.example")
    neighbour = make_member(tenant, "neighbour@alpha.example")
    return {
        "own": ExchangeConnection.objects.create(
            tenant=tenant, user=member, exchange="kucoin", access_token="own-access-token", api_key="own-api-key-123456"
        ),
        "neighbour": ExchangeConnection.objects.create(tenant=tenant, user=neighbour, exchange="okx"),
        "foreign": ExchangeConnection.objects.create(tenant=other_tenant, user=stranger, exchange="kraken"),
    }
