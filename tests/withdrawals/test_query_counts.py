"""Each page of a withdrawal costs an exact number of queries, whatever the user's history: the list, the wizard's
steps (details, preview, step-up, the exchange's factors) and the status. The pages are requested in this process
(the queries counted are the portal's) while the exchange is the live sandbox, whose own queries run in the live
server's thread and are not counted."""

import uuid

import pytest
from django.test import Client
from django.utils import timezone

from tests.helpers import exact_queries
from withdrawals.services.details import withdrawal_save_details
from withdrawals.services.quote import withdrawal_preview
from withdrawals.services.step_up import withdrawal_step_up
from withdrawals.services.submit import withdrawal_submit

from .helpers import codes_for, details, ready_to_submit

pytestmark = pytest.mark.django_db(transaction=True)

# Every page starts with the tenant's host, the session, the user and the user's membership (four queries).
# The list: the user's withdrawals, their connections joined.
LIST = 5
# The details step: the connection (tenant-scoped), its credential, the credential's tenant, and whether the user
# has an authenticator; the exchange's currencies, networks and saved addresses cost the portal no query.
DETAILS = 8
# The preview: the withdrawal, its credential and tenant, the tenant's limits, then in one transaction the
# withdrawal locked, the quote saved and its audit event.
PREVIEW = 13
# The step-up: the withdrawal and whether the user has an authenticator.
STEP_UP = 6
# The exchange's factors: the withdrawal, its credential and the credential's tenant.
VERIFY = 7
# The status of a submitted withdrawal: the withdrawal, with its connection.
STATUS = 5


@pytest.fixture
def signed_in(portal):
    client = Client(HTTP_HOST="localhost")
    client.force_login(portal["user"])
    client.get("/withdrawals/")  # the first request after signing in also renews the session
    return client


def withdrawal_at_details(portal, connection):
    return withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=connection,
        idempotency_key=uuid.uuid4(),
        details=details(),
    )


def add_history(portal, connection, count):
    for _ in range(count):
        withdrawal_at_details(portal, connection)


def test_the_withdrawal_pages_cost_exact_queries_however_many_withdrawals(portal, kucoin, sandbox_accounts, signed_in):
    add_history(portal, kucoin, 1)
    for more in (0, 5):  # the same counts with one earlier withdrawal and with six
        add_history(portal, kucoin, more)
        with exact_queries(LIST):
            assert signed_in.get("/withdrawals/").status_code == 200
        with exact_queries(DETAILS):
            assert signed_in.get(f"/withdrawals/new/{kucoin.pk}/").status_code == 200
        withdrawal = withdrawal_at_details(portal, kucoin)
        with exact_queries(PREVIEW):
            assert signed_in.get(f"/withdrawals/{withdrawal.pk}/preview/").status_code == 200
        with exact_queries(STEP_UP):
            assert signed_in.get(f"/withdrawals/{withdrawal.pk}/step-up/").status_code == 200
        withdrawal_step_up(withdrawal=withdrawal_preview(withdrawal=withdrawal), authenticated_at=timezone.now())
        with exact_queries(VERIFY):
            assert signed_in.get(f"/withdrawals/{withdrawal.pk}/verify/").status_code == 200
        sent = withdrawal_submit(
            withdrawal_id=ready_to_submit(portal, kucoin).pk,
            tenant=portal["tenant"],
            user=portal["user"],
            codes=codes_for(portal, sandbox_accounts),
        )
        with exact_queries(STATUS):
            assert signed_in.get(f"/withdrawals/{sent.pk}/").status_code == 200
