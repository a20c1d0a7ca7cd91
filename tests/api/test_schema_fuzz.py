"""schemathesis against the live schema: no 5xx, and every response conforms to what the schema says."""

import shutil
import subprocess

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from rest_framework.throttling import SimpleRateThrottle

from api.tokens import api_token_create
from broker_portal import services
from broker_portal.models import Membership
from connectors.models import ExchangeConnection, ExchangeCredential

pytestmark = pytest.mark.django_db(transaction=True)


def test_schemathesis_finds_no_server_error_and_no_nonconforming_response(live_server, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "100000/min", "tenant": "100000/min"})
    tenant = services.tenant_create(name="Fuzz Broker", slug="fuzz", hosts=["localhost"])
    admin = services.member_create(
        tenant=tenant, email="admin@fuzz.example", password="x-long-password", role=Membership.Role.BROKER_ADMIN
    )
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")  # staff use the API only with MFA set up
    ExchangeConnection.objects.create(tenant=tenant, user=admin, exchange="kraken")
    ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="kraken",
        client_id="k",
        allowed_permissions=["account.info:basic"],
        redirect_uris=[f"{live_server.url}/connect/kraken/callback/"],
        authorize_base_url=f"{live_server.url}/sandbox/kraken",
        api_base_url=f"{live_server.url}/sandbox/kraken",
    )
    key = api_token_create(tenant=tenant, user=admin, name="fuzz")[1]

    result = subprocess.run(
        [
            shutil.which("schemathesis") or "schemathesis",
            "run",
            f"{live_server.url}/api/schema/?format=json",
            "--url",
            live_server.url,
            "-H",
            f"Authorization: Bearer {key}",
            "--checks",
            "all",
            "--exclude-checks",
            "ignored_auth,positive_data_acceptance",
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--generation-deterministic",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--warnings",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
