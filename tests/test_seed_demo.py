import json
from io import StringIO

import pytest
from django.core.management import call_command

from broker_portal.models import Membership, Tenant, TenantHost, User
from connectors.models import ExchangeCredential

pytestmark = pytest.mark.django_db


def seed_json():
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_is_idempotent_and_describes_what_it_made():
    first = seed_json()
    counts = (
        Tenant.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
        ExchangeCredential.objects.count(),
        TenantHost.objects.count(),
    )
    second = seed_json()
    assert first == second
    assert counts == (
        Tenant.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
        ExchangeCredential.objects.count(),
        TenantHost.objects.count(),
    )

    tenants = {t["name"]: t for t in first["tenants"]}
    assert set(tenants) == {"Demo Broker", "Acme Brokerage"}
    assert set(tenants["Demo Broker"]["hosts"]) == {"localhost", "127.0.0.1"}
    for tenant in tenants.values():
        roles = {user["role"]: user for user in tenant["users"]}
        assert set(roles) == {"member", "broker_admin", "accountant"}
        assert "totp_secret" not in roles["member"]
        assert roles["broker_admin"]["totp_secret"] and roles["accountant"]["totp_secret"]
        for user in tenant["users"]:
            assert User.objects.get(email=user["email"]).check_password(user["password"])


def test_seed_demo_moves_an_earlier_kucoin_credential_to_the_www_host_with_a_broker_name():
    from sandbox.models import Client

    seed_json()
    credential = ExchangeCredential.objects.filter(exchange="kucoin").first()
    # As the demo seeded KuCoin before its www host and broker name were modelled.
    credential.authorize_base_url = credential.api_base_url
    credential.settings = {"partner": credential.client_id}
    credential.save()
    seed_json()
    credential.refresh_from_db()
    assert credential.authorize_base_url == credential.api_base_url.replace("/sandbox/kucoin", "/sandbox/kucoin-www")
    broker_name = credential.settings["broker_name"]
    assert broker_name and broker_name != credential.settings["partner"]
    assert Client.objects.get(exchange="kucoin", client_id=credential.client_id).broker_name == broker_name
