"""An export range beyond what any exchange history can hold is refused where it is asked for (the form, the API,
the service), not accepted and then failed by the job with OverflowError."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.tokens import api_token_create
from broker_portal.models import Membership
from exports.models import ExportJob
from exports.services.jobs import ExportError, export_request

pytestmark = pytest.mark.django_db

LATEST = date(timezone.now().year + 1, 12, 31)  # the end of next year: whole tax years, the current one too
RANGES = [
    (date(2025, 1, 1), date.max),
    (date(2025, 1, 1), date(9000, 1, 1)),
    (date.min, date(2025, 1, 1)),
    (date(1900, 1, 1), date(2025, 1, 1)),
    (date(2025, 1, 1), LATEST + timedelta(days=1)),
]
IDS = ["to-max", "to-9000", "from-min", "from-1900", "to-after-next-year"]


@pytest.fixture
def member_client(member, client_at):
    client = client_at("alpha.localhost")
    client.force_login(member)
    return client


@pytest.mark.parametrize("date_from, date_to", RANGES, ids=IDS)
def test_the_form_refuses_the_range(member_client, date_from, date_to):
    response = member_client.post(
        "/exports/",
        {
            "scope": "user",
            "kinds": ["deposit"],
            "format": "koinly",
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors and ("date_from" in form.errors or "date_to" in form.errors)
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("date_from, date_to", RANGES, ids=IDS)
def test_the_api_refuses_the_range(tenant, member, date_from, date_to):
    api = APIClient(HTTP_HOST="alpha.localhost")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=member, name='t')[1]}")
    response = api.post(
        "/api/v1/exports/",
        {
            "scope": "user",
            "kinds": ["deposit"],
            "format": "koinly",
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("date_from, date_to", RANGES, ids=IDS)
def test_the_service_refuses_the_range(tenant, member, date_from, date_to):
    with pytest.raises(ExportError):
        export_request(
            tenant=tenant,
            user=member,
            membership=Membership.objects.get(user=member),
            scope="user",
            kinds=["deposit"],
            export_format="koinly",
            date_from=date_from,
            date_to=date_to,
        )
    assert not ExportJob.objects.exists()


def test_a_range_to_the_end_of_next_year_is_accepted(member_client):
    response = member_client.post(
        "/exports/",
        {
            "scope": "user",
            "kinds": ["deposit"],
            "format": "koinly",
            "date_from": "2024-01-01",
            "date_to": LATEST.isoformat(),
            "allow_empty": "on",
        },
    )
    assert response.status_code == 302 and ExportJob.objects.count() == 1
