"""Malformed input in the credential admin form gets a form error, never a 500, and nothing invalid is stored:
a non-object ``settings`` once stored broke connect for every user of the tenant."""

import pytest

from connectors.models import ExchangeCredential
from connectors.socialaccount import TenantSocialAccountAdapter

VALID = {
    "exchange": "okx",
    "is_enabled": "on",
    "client_id": "okx-client",
    "client_type": "confidential",
    "redirect_uris": "https://alpha.example/connect/okx/callback/",
    "allowed_permissions": "read_only",
    "default_permissions": "read_only",
    "authorize_base_url": "https://www.okx.test",
    "api_base_url": "https://www.okx.test",
    "service_ip_list": "10.0.0.1",
    "trading_ip_list": "",
    "settings": "{}",
}
DEEP = "[" * 100_000 + "]" * 100_000

BAD = [
    ("redirect_uris", "https://alpha.example/cb/\x00"),
    ("redirect_uris", "not a url"),
    ("redirect_uris", "javascript:alert(1)"),
    ("redirect_uris", "https://alpha.example/cb/#fragment"),
    ("service_ip_list", "10.0.0.1\x00"),
    ("trading_ip_list", "10.0.0.1\n\x00"),
    ("service_ip_list", "not-an-ip"),
    ("settings", ""),
    ("settings", "null"),
    ("settings", "[1, 2]"),
    ("settings", '"a string"'),
    ("settings", "42"),
    ("settings", DEEP),
    ("settings", '{"a": ' * 50 + "1" + "}" * 50),
    ("settings", '{"note": "nul \\u0000 inside"}'),
    ("settings", '{"redirect_uris": ["https://evil.example/"]}'),
]


@pytest.mark.parametrize("field, value", BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_value_gets_a_form_error_and_is_not_stored(admin_client, field, value):
    response = admin_client.post("/admin/connectors/exchangecredential/add/", {**VALID, field: value})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ExchangeCredential.objects.exists()


@pytest.mark.parametrize("field, value", BAD[-9:-2] + BAD[:2], ids=lambda v: repr(v)[:20])
def test_bad_value_is_refused_on_change_too(admin_client, tenant, field, value):
    credential = ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="okx",
        client_id="okx-client",
        redirect_uris=["https://alpha.example/cb/"],
        authorize_base_url="https://www.okx.test",
        api_base_url="https://www.okx.test",
        settings={"kept": 1},
    )
    response = admin_client.post(
        f"/admin/connectors/exchangecredential/{credential.pk}/change/", {**VALID, field: value}
    )
    assert response.status_code == 200 and field in response.context["adminform"].form.errors
    credential.refresh_from_db()
    assert credential.settings == {"kept": 1} and credential.redirect_uris == ["https://alpha.example/cb/"]


def test_valid_form_still_saves(admin_client):
    response = admin_client.post(
        "/admin/connectors/exchangecredential/add/", {**VALID, "settings": '{"note": "fine", "list": [1, "two"]}'}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # OKX's own field (its broker code, left empty) is kept beside what the JSON settings said.
    assert ExchangeCredential.objects.get().settings == {"note": "fine", "list": [1, "two"], "broker_code": ""}


def test_a_stored_non_object_setting_breaks_only_its_own_credential(tenant, rf):
    for exchange, settings in (("okx", ["not", "an", "object"]), ("kraken", {})):
        ExchangeCredential.objects.create(
            tenant=tenant,
            exchange=exchange,
            client_id=f"{exchange}-client",
            authorize_base_url="https://x.test",
            api_base_url="https://x.test",
            settings=settings,
        )
    request = rf.get("/")
    request.tenant = tenant
    apps = TenantSocialAccountAdapter(request).list_apps(request)
    assert [app.provider for app in apps] == ["kraken"]
