"""The request id: a sane one from the proxy is kept, anything else replaced; it is in the response and in the
lines logged while the request is handled."""

import re

import pytest

from tests.helpers import portal_log_written_as_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def written_lines():
    with portal_log_written_as_json() as written:
        yield written


def test_a_sane_request_id_is_kept_and_put_on_the_lines_logged_for_the_request(client_at, tenant, written_lines):
    response = client_at("alpha.localhost").get("/no-such-page/", HTTP_X_REQUEST_ID="lb-3f2a9c1e-0001")
    assert response.status_code == 404 and response["X-Request-ID"] == "lb-3f2a9c1e-0001"
    assert '"logger": "django.request"' in written_lines.getvalue()
    assert '"request_id": "lb-3f2a9c1e-0001"' in written_lines.getvalue()


@pytest.mark.parametrize("sent", ["forged\r\nINFO admin signed in", "x" * 129, "has space", '"quoted"', ""])
def test_anything_else_is_replaced_by_a_fresh_id(client_at, tenant, sent):
    response = client_at("alpha.localhost").get("/accounts/login/", HTTP_X_REQUEST_ID=sent)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_every_request_gets_its_own_id(client_at, tenant):
    client = client_at("alpha.localhost")
    assert client.get("/accounts/login/")["X-Request-ID"] != client.get("/accounts/login/")["X-Request-ID"]
