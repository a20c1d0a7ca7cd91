"""The API tokens page: post/redirect/get, the key shown once with a copy button, dates, expiry honoured."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(member, client_at):
    client = client_at("alpha.localhost")
    client.force_login(member)
    return client


def test_creating_a_token_redirects_so_a_reload_makes_no_second_one(page_client, member):
    created = page_client.post("/api/tokens/", {"name": "back office", "expires_in": "30"})
    assert created.status_code == 302 and created["Location"] == "/api/tokens/"
    shown = page_client.get("/api/tokens/")
    page = shown.content.decode()
    token = ApiToken.objects.get(user=member)
    key = page.split('<pre id="new-token">')[1].split("</pre>")[0]
    assert key.startswith(f"bp_{token.prefix}_") and 'data-copy="new-token"' in page
    assert shown["Cache-Control"] == "no-store" and "Authorization: Bearer" in page
    assert f"{token.created_at:%Y-%m-%d %H:%M} UTC" in page and "never used" in page
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    again = page_client.get("/api/tokens/").content.decode()
    assert key not in again and 'id="new-token"' not in again  # shown once; a reload shows it no more
    assert ApiToken.objects.filter(user=member).count() == 1


def test_a_token_without_expiry_works_and_an_expired_one_is_refused(page_client, member):
    page_client.post("/api/tokens/", {"name": "forever"})
    page = page_client.get("/api/tokens/").content.decode()
    key = page.split('<pre id="new-token">')[1].split("</pre>")[0]
    api = APIClient(HTTP_HOST="alpha.localhost")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/connections/").status_code == 200
    token = ApiToken.objects.get(user=member)
    assert token.expires_at is None and token.last_used_at is not None
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/v1/connections/").status_code == 401
    assert "expired" in page_client.get("/api/tokens/").content.decode()


def test_a_bad_expiry_is_a_form_error_and_makes_no_token(page_client, member):
    response = page_client.post("/api/tokens/", {"name": "x", "expires_in": "9999"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()
