"""Every page and API endpoint that takes an id answers "not found" for another tenant's ids, whatever the role.

The URLs are read from the URL configuration, so a new endpoint is covered the day it is added."""

import datetime
import re
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from api.tokens import api_token_create
from broker_portal.models import Membership
from connectors.models import ExchangeConnection, ExchangeCredential
from exports.models import ExportJob
from payouts.models import Payout, PayoutBatch
from tests.helpers import make_member
from trading.models import TradeOrder
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from withdrawals.models import Withdrawal

pytestmark = pytest.mark.django_db

# Parts of the site that are not the tenant's own pages: the exchanges' stand-in, allauth's, Django's admin
# (covered in tests/test_admin.py).
OUTSIDE = ("sandbox/", "accounts/", "admin/")


def id_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return sorted(
        route for route in walk(get_resolver().url_patterns) if "<int:" in route and not route.startswith(OUTSIDE)
    )


def foreign_world(tenant):
    """One of every tenant-owned object that an URL can name, all in ``tenant``, by the name URLs give it."""
    owner = make_member(tenant, "owner@beta.example")
    connection = ExchangeConnection.objects.create(tenant=tenant, user=owner, exchange="kucoin", access_token="t")
    withdrawal = Withdrawal.objects.create(
        tenant=tenant,
        user=owner,
        connection=connection,
        exchange="kucoin",
        currency="BTC",
        destination="bc1qforeign",
        amount=Decimal("0.01"),
    )
    job = ExportJob.objects.create(
        tenant=tenant,
        requested_by=owner,
        scope="user",
        scope_user=owner,
        kinds=["trade"],
        format="csv",
        date_from=datetime.date(2026, 1, 1),
        date_to=datetime.date(2026, 1, 2),
    )
    token, _ = api_token_create(tenant=tenant, user=owner, name="foreign")
    credential = ExchangeCredential.objects.create(
        tenant=tenant,
        exchange="kucoin",
        client_id="foreign",
        authorize_base_url="https://www.kucoin.test",
        api_base_url="https://api.kucoin.test",
    )
    credential.logo.save("foreign.png", ContentFile(b"\x89PNG\r\n\x1a\n" + bytes(24)))  # one to find, if it leaked
    order = TradeOrder.objects.create(
        tenant=tenant,
        connection=connection,
        user=owner,
        exchange="kucoin",
        symbol="BTC-USDT",
        base="BTC",
        quote="USDT",
        side="buy",
        type="limit",
        size=Decimal("0.01"),
        price=Decimal("60000"),
        client_order_id="foreign0001",
        exchange_order_id="foreign-order",
        status="open",
    )
    batch = PayoutBatch.objects.create(tenant=tenant, name="foreign")
    payout = Payout.objects.create(
        tenant=tenant,
        batch=batch,
        connection=connection,
        user=owner,
        asset="USDT",
        network="trx",
        amount=Decimal("5"),
        reference="foreign-1",
    )
    endpoint = WebhookEndpoint.objects.create(tenant=tenant, url="https://hooks.beta.example/", secret="whsec_x")
    event = WebhookEvent.objects.create(tenant=tenant, type="connection.connected", payload={})
    delivery = WebhookDelivery.objects.create(
        tenant=tenant, endpoint=endpoint, event=event, webhook_id="msg_foreign", retry_from=timezone.now()
    )
    return {
        "connection_id": connection.pk,
        "withdrawal_id": withdrawal.pk,
        "job_id": job.pk,
        "credential_id": credential.pk,
        "delivery_pk": delivery.pk,
        "order_id": order.pk,
        "order_pk": order.pk,
        # API routes say <pk> after the collection's name
        "connections": connection.pk,
        "withdrawals": withdrawal.pk,
        "exports": job.pk,
        "tokens": token.pk,
        "batches": batch.pk,
        "payouts": payout.pk,
        "webhooks": endpoint.pk,
    }


def url_for(route: str, ids: dict) -> str:
    def fill(match):
        name = match.group(1)
        if name != "pk":
            return str(ids[name])
        collection = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        return str(ids[collection])

    return "/" + re.sub(r"<int:(\w+)>", fill, route)


@pytest.fixture
def world(other_tenant):
    return foreign_world(other_tenant)


@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.BROKER_ADMIN, Membership.Role.ACCOUNTANT])
def test_every_id_in_a_url_is_not_found_across_tenants(tenant, world, role):
    user = make_member(tenant, f"{role}@alpha.example", role)
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DP")  # staff need MFA before exports; members may have it too
    page = Client(HTTP_HOST="alpha.localhost", raise_request_exception=False)
    page.force_login(user)
    api = Client(
        HTTP_HOST="alpha.localhost",
        raise_request_exception=False,
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=user, name='mine')[1]}",
    )
    routes = id_routes()
    assert len(routes) >= 20
    missing = dict.fromkeys(world, 2**31 - 1)
    for route in routes:
        url = url_for(route, world)
        client = api if route.startswith("api/v1/") else page
        answers = {method: getattr(client, method)(url).status_code for method in ("get", "post")}
        # A role refused the whole route (403: payouts and webhooks are the broker admins') is refused alike for an
        # id that exists nowhere: the answer never tells another tenant's object from no object.
        unknown = {method: getattr(client, method)(url_for(route, missing)).status_code for method in ("get", "post")}
        assert set(answers.values()) <= {403, 404, 405} and answers == unknown, (url, answers, unknown)
        assert answers["get"] in (403, 404) or answers["post"] in (403, 404), (url, answers)
    assert ExchangeConnection.objects.get(tenant__slug="beta").access_token == "t"
    assert Withdrawal.objects.get().state == "draft"
    assert TradeOrder.objects.get().status == "open"


def test_a_credentials_settings_cannot_point_a_flow_at_another_tenants_credential(tenant, other_tenant):
    from allauth.socialaccount.providers import registry

    from connectors.models import ExchangeCredential
    from connectors.services import ConnectError, exchange_api_for
    from connectors.socialaccount import app_from_credential

    def credential(owner, secret):
        return ExchangeCredential.objects.create(
            tenant=owner,
            exchange="kraken",
            client_id=f"{owner.slug}-kraken",
            client_secret=secret,
            redirect_uris=["https://x.example/cb"],
            authorize_base_url="https://id.kraken.example",
            api_base_url="https://api.kraken.example",
        )

    victim = credential(other_tenant, "victims-secret")
    mine = credential(tenant, "my-secret")
    mine.settings = {"credential_id": victim.pk}  # admin-editable JSON
    mine.save()
    provider = registry.get_class("kraken")(None, app=app_from_credential(mine))
    assert provider.app.settings["credential_id"] == mine.pk
    assert exchange_api_for(provider, tenant=tenant).client_secret == "my-secret"
    # Even an app that names another tenant's credential finds nothing outside its own tenant.
    provider.app.settings["credential_id"] = victim.pk
    with pytest.raises(ConnectError):
        exchange_api_for(provider, tenant=tenant)
