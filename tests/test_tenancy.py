import pytest
from django.http import Http404

from broker_portal.models import AuditEvent
from broker_portal.tenancy import get_for_tenant
from connectors.models import ExchangeCredential

pytestmark = pytest.mark.django_db


def test_unknown_host_gets_a_plain_404_not_another_tenant(tenant, client_at):
    response = client_at("nobody.localhost").get("/accounts/login/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert b"Alpha" not in response.content


def test_host_selects_its_tenant_and_brand(tenant, other_tenant, client_at):
    alpha = client_at("alpha.localhost").get("/accounts/login/")
    beta = client_at("beta.localhost:8000").get("/accounts/login/")
    assert b"Alpha Broker" in alpha.content and b"Beta Broker" not in alpha.content
    assert b"Beta Broker" in beta.content and b"Alpha Broker" not in beta.content


def test_foreign_and_missing_rows_are_the_same_not_found(tenant, other_tenant):
    foreign = ExchangeCredential.objects.create(
        tenant=other_tenant,
        exchange="kucoin",
        client_id="b",
        authorize_base_url="https://x.test",
        api_base_url="https://x.test",
    )
    with pytest.raises(Http404) as foreign_error:
        get_for_tenant(ExchangeCredential.objects.all(), tenant, pk=foreign.pk)
    with pytest.raises(Http404) as missing_error:
        get_for_tenant(ExchangeCredential.objects.all(), tenant, pk=foreign.pk + 1000)
    assert str(foreign_error.value) == str(missing_error.value)
    assert get_for_tenant(ExchangeCredential.objects.all(), other_tenant, pk=foreign.pk) == foreign


def test_the_broker_admin_chooses_the_reference_currency_among_those_priced(admin_client, tenant):
    assert tenant.reference_currency == "USDT"  # the default, as every exchange prices in it
    form = {
        "name": tenant.name,
        "primary_color": tenant.primary_color,
        "accent_color": tenant.accent_color,
        "support_email": "",
    }
    url = f"/admin/broker_portal/tenant/{tenant.pk}/change/"
    refused = admin_client.post(url, {**form, "reference_currency": "EUR"})  # not every exchange quotes EUR
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    tenant.refresh_from_db()
    assert tenant.reference_currency == "USDT"

    assert admin_client.post(url, {**form, "reference_currency": "USDC"}).status_code == 302
    tenant.refresh_from_db()
    assert tenant.reference_currency == "USDC"
    event = AuditEvent.objects.get(action="tenant.updated")
    assert event.tenant == tenant and event.details == {"changed": ["reference_currency"]}
