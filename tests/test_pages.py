import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.exchanges import EXCHANGES
from connectors.models import ExchangeCredential

pytestmark = pytest.mark.django_db


def configure_all_exchanges(tenant):
    for exchange in EXCHANGES.values():
        ExchangeCredential.objects.create(
            tenant=tenant,
            exchange=exchange.id,
            client_id=f"{exchange.id}-id",
            allowed_permissions=list(exchange.permission_codes),
            authorize_base_url="https://a.test",
            api_base_url="https://a.test",
        )


def test_dashboard_lists_only_this_tenants_enabled_exchanges(member, tenant, other_tenant, client_at):
    configure_all_exchanges(other_tenant)
    ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="kraken",
        client_id="k",
        authorize_base_url="https://a.test",
        api_base_url="https://a.test",
        allowed_permissions=["account.info:basic"],
    )
    ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="okx",
        client_id="o",
        is_enabled=False,
        authorize_base_url="https://a.test",
        api_base_url="https://a.test",
    )
    client = client_at("alpha.localhost")
    client.force_login(member)
    page = client.get("/").content.decode()
    assert 'data-exchange="kraken"' in page
    assert 'data-exchange="okx"' not in page and 'data-exchange="kucoin"' not in page
    assert "Account details" in page and ">Withdraw</li>" not in page


def test_dashboard_queries_do_not_grow_with_exchanges(member, tenant, client_at):
    client = client_at("alpha.localhost")
    client.force_login(member)
    client.get("/")  # warm the session
    with CaptureQueriesContext(connection) as empty:
        client.get("/")
    configure_all_exchanges(tenant)
    with CaptureQueriesContext(connection) as full:
        assert client.get("/").status_code == 200
    assert len(full) == len(empty), "\n".join(q["sql"] for q in full.captured_queries)
    assert len(full) <= 6, "\n".join(q["sql"] for q in full.captured_queries)


def test_tenant_logo_is_served_per_tenant(tenant, other_tenant, client_at):
    from django.core.files.base import ContentFile

    tenant.logo.save("alpha.svg", ContentFile(b"<svg xmlns='http://www.w3.org/2000/svg'/>"))
    assert client_at("alpha.localhost").get("/branding/logo").status_code == 200
    assert client_at("beta.localhost").get("/branding/logo").status_code == 404
