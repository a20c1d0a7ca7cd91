"""A connection whose stored secret no key opens can be disconnected and connected again, as its card asks: both
paths read the broken row without decrypting it first."""

import pytest

from broker_portal.models import AuditEvent
from connectors.models import ExchangeConnection
from tests.connectors.helpers import connect_okx, disconnect
from tests.security.helpers import corrupt

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]


@pytest.mark.parametrize("field", ["api_key", "api_secret", "access_token"])
def test_disconnect_wipes_a_connection_whose_secret_no_key_opens(browser_session, portal, sandbox_accounts, field):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    corrupt(ExchangeConnection.objects.get(), field)
    response = disconnect(browser_session, portal, ExchangeConnection.objects.without_secrets().get())
    assert response.status_code == 200 and "is disconnected" in response.text
    connection = ExchangeConnection.objects.get()
    assert connection.status == "revoked" and connection.secrets_readable
    assert (connection.api_key, connection.api_secret, connection.access_token, connection.api_key_id) == ("",) * 4
    assert "unreadable" in AuditEvent.objects.get(action="connection.disconnected").details["error"]


def test_connecting_again_replaces_the_unreadable_secrets(browser_session, portal, sandbox_accounts):
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    corrupt(ExchangeConnection.objects.get(), "api_secret")
    assert connect_okx(browser_session, sandbox_accounts).status_code == 302
    connection = ExchangeConnection.objects.get()
    assert connection.secrets_readable and connection.api_secret and connection.status == "active"
