"""Each API read costs a fixed number of queries, however many rows it returns."""

import datetime
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api.tokens import api_token_create
from broker_portal.audit import record_audit_event
from broker_portal.models import Membership
from connectors.models import ExchangeConnection
from exports.models import ExportJob
from tests.helpers import make_member
from withdrawals.models import Withdrawal

pytestmark = pytest.mark.django_db


def add_rows(tenant, user, count):
    for i in range(count):
        connection = ExchangeConnection.objects.create(
            tenant=tenant, user=user, exchange="kucoin", exchange_account_id=f"acct-{user.pk}-{i}-{count}"
        )
        Withdrawal.objects.create(
            tenant=tenant,
            user=user,
            connection=connection,
            exchange="kucoin",
            currency="BTC",
            destination="bc1q",
            amount=Decimal("0.01"),
        )
        ExportJob.objects.create(
            tenant=tenant,
            requested_by=user,
            scope="user",
            scope_user=user,
            kinds=["trade"],
            format="csv",
            date_from=datetime.date(2026, 1, 1),
            date_to=datetime.date(2026, 1, 2),
        )
        record_audit_event(tenant=tenant, action="test.row", actor=user)


@pytest.mark.parametrize(
    "path", ["/api/v1/connections/", "/api/v1/withdrawals/", "/api/v1/exports/", "/api/v1/audit-events/"]
)
def test_lists_cost_the_same_queries_for_one_row_or_many(tenant, path):
    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")  # staff use the API only with MFA set up
    client = APIClient(HTTP_HOST="alpha.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=admin, name='q')[1]}")
    add_rows(tenant, admin, 1)
    client.get(path)  # the first use of a token also records it as used
    with CaptureQueriesContext(db_connection) as few:
        assert client.get(path).status_code == 200
    add_rows(tenant, admin, 6)
    with CaptureQueriesContext(db_connection) as many:
        assert client.get(path).status_code == 200
    assert len(many) == len(few) <= 6, "\n".join(q["sql"] for q in many.captured_queries)


@pytest.mark.parametrize(
    "collection, model", [("connections", ExchangeConnection), ("withdrawals", Withdrawal), ("exports", ExportJob)]
)
def test_details_cost_a_fixed_number_of_queries(tenant, collection, model, django_assert_max_num_queries):
    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")  # staff use the API only with MFA set up
    client = APIClient(HTTP_HOST="alpha.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=admin, name='q')[1]}")
    add_rows(tenant, admin, 1)
    with django_assert_max_num_queries(7):  # one of them: has this staff member set up MFA?
        assert client.get(f"/api/v1/{collection}/{model.objects.get().pk}/").status_code == 200
