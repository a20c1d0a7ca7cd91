"""Endpoints managed through the API and the admin: broker admins of the tenant only, secrets shown once, the
delivery log with replays, and the event catalogue in the OpenAPI document."""

from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from api.tokens import api_token_create
from broker_portal.models import AuditEvent
from webhooks import delivery, services
from webhooks.events import CATALOGUE
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .helpers import CONNECTED, make_endpoint

pytestmark = pytest.mark.django_db


def api_client_for(tenant, user, host="alpha.localhost") -> APIClient:
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = APIClient(HTTP_HOST=host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=user, name='ops')[1]}")
    return client


@pytest.fixture
def admin_api(tenant, broker_admin):
    return api_client_for(tenant, broker_admin)


def test_the_api_creates_an_endpoint_shows_its_secret_once_and_rotates_it(admin_api, receiver, fast_retries):
    inbox = receiver()
    created = admin_api.post(
        "/api/v1/webhooks/", {"url": inbox.url, "event_types": ["withdrawal.submitted"]}, format="json"
    )
    assert created.status_code == 201, created.content
    first_secret = created.json()["secret"]
    assert first_secret.startswith("whsec_")
    endpoint_id = created.json()["id"]
    shown = admin_api.get(f"/api/v1/webhooks/{endpoint_id}/").json()
    listed = admin_api.get("/api/v1/webhooks/").json()["results"]
    assert "secret" not in shown and all("secret" not in row for row in listed)
    assert first_secret not in str(AuditEvent.objects.values_list("details", flat=True))
    with connection.cursor() as cursor:  # encrypted at rest: the column holds no plaintext
        cursor.execute("SELECT secret FROM webhooks_webhookendpoint WHERE id = %s", [endpoint_id])
        assert first_secret not in str(cursor.fetchone()[0])

    rotated = admin_api.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret/")
    assert rotated.status_code == 200
    second_secret = rotated.json()["secret"]
    assert second_secret != first_secret and rotated.json()["previous_secret_expires_at"]

    fired = admin_api.post(f"/api/v1/webhooks/{endpoint_id}/test/")
    assert fired.status_code == 202 and fired.json()["event_type"] == "webhook.test"
    delivery.endpoint_deliver_due(endpoint_id=endpoint_id)
    [request] = inbox.received
    # During the overlap both secrets verify, so the receiver can switch at its own pace.
    for secret in (first_secret, second_secret):
        assert Webhook(secret).verify(request["body"], request["headers"])["type"] == "webhook.test"
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2

    log = admin_api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries/").json()["results"]
    assert [(row["status"], row["response_code"], row["attempts"]) for row in log] == [("succeeded", 200, 1)]
    assert log[0]["webhook_id"] == request["headers"]["webhook-id"]


def test_after_the_overlap_only_the_new_secret_signs(tenant):
    endpoint, first = make_endpoint(tenant, "http://127.0.0.1:9/hooks")
    endpoint, second = services.endpoint_rotate_secret(endpoint=endpoint)
    later = timezone.now() + timedelta(hours=25)
    assert services.signing_secrets(endpoint, later) == [second]
    assert services.signing_secrets(endpoint) == [second, first]


def test_urls_must_be_https_and_public_where_required(admin_api, settings):
    settings.WEBHOOK_URLS_PUBLIC_ONLY = True
    for url in (
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest",
        "https://localhost/x",
        "https://user:pw@example.com/x",
    ):
        answer = admin_api.post("/api/v1/webhooks/", {"url": url}, format="json")
        assert answer.status_code in (400, 422), url
    assert not WebhookEndpoint.objects.exists()
    # Delivery checks again at connect time: an address stored before (or resolving differently now) is refused.
    settings.WEBHOOK_URLS_PUBLIC_ONLY = False
    endpoint, _ = make_endpoint(
        WebhookEndpoint._meta.get_field("tenant").related_model.objects.get(slug="alpha"), "https://127.0.0.1:9/x"
    )
    settings.WEBHOOK_URLS_PUBLIC_ONLY = True
    with transaction.atomic():
        services.event_record(tenant=endpoint.tenant, type="connection.connected", payload=CONNECTED)
    delivery.endpoint_deliver_due(endpoint_id=endpoint.pk)
    row = WebhookDelivery.objects.get()
    assert row.status == "pending" and row.response_code is None and "public address" in row.last_error


def test_only_the_tenants_broker_admins_reach_its_endpoints(tenant, other_tenant, member, admin_api):
    theirs, _ = make_endpoint(other_tenant, "http://127.0.0.1:9/theirs")
    mine, _ = make_endpoint(tenant, "http://127.0.0.1:9/mine")
    assert [row["id"] for row in admin_api.get("/api/v1/webhooks/").json()["results"]] == [mine.pk]
    for path in (f"/api/v1/webhooks/{theirs.pk}/", f"/api/v1/webhooks/{theirs.pk}/deliveries/"):
        assert admin_api.get(path).status_code == 404
    for path in ("rotate-secret/", "test/"):
        assert admin_api.post(f"/api/v1/webhooks/{theirs.pk}/{path}").status_code == 404
    assert admin_api.patch(f"/api/v1/webhooks/{theirs.pk}/", {"enabled": False}, format="json").status_code == 404
    assert admin_api.delete(f"/api/v1/webhooks/{theirs.pk}/").status_code == 404
    with transaction.atomic():
        services.event_record(tenant=other_tenant, type="connection.connected", payload=CONNECTED)
    foreign = WebhookDelivery.objects.get(endpoint=theirs)
    assert admin_api.post(f"/api/v1/webhooks/{mine.pk}/deliveries/{foreign.pk}/replay/").status_code == 404
    member_api = APIClient(HTTP_HOST="alpha.localhost")
    member_api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(tenant=tenant, user=member, name='x')[1]}")
    assert member_api.get("/api/v1/webhooks/").status_code == 403
    assert WebhookEndpoint.objects.get(pk=theirs.pk).status == "enabled"


def test_replay_one_or_every_failed_delivery_of_a_time_range_keeps_the_webhook_id(
    tenant, admin_api, receiver, fast_retries, settings
):
    inbox = receiver()
    endpoint, secret = make_endpoint(tenant, inbox.url)
    for _ in range(3):
        with transaction.atomic():
            services.event_record(tenant=tenant, type="connection.connected", payload=CONNECTED)
    # Gave up on all three (retries over), then the receiver is fixed.
    WebhookDelivery.objects.update(status="failed", next_attempt_at=None, attempts=20)
    old = WebhookDelivery.objects.order_by("pk").first()
    old.event.created_at = timezone.now() - timedelta(days=2)
    old.event.save()

    since = (timezone.now() - timedelta(hours=1)).isoformat()
    until = (timezone.now() + timedelta(minutes=1)).isoformat()
    answer = admin_api.post(
        f"/api/v1/webhooks/{endpoint.pk}/replay-failed/", {"since": since, "until": until}, format="json"
    )
    assert answer.status_code == 202 and answer.json() == {"replayed": 2}
    delivery.endpoint_deliver_due(endpoint_id=endpoint.pk)
    assert len(inbox.received) == 2
    assert WebhookDelivery.objects.get(pk=old.pk).status == "failed"

    replayed = admin_api.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{old.pk}/replay/")
    assert replayed.status_code == 202 and replayed.json()["status"] == "pending"
    delivery.endpoint_deliver_due(endpoint_id=endpoint.pk)
    assert inbox.received[-1]["headers"]["webhook-id"] == old.webhook_id
    Webhook(secret).verify(inbox.received[-1]["body"], inbox.received[-1]["headers"])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert AuditEvent.objects.filter(action="webhook.deliveries_replayed", details__count=2).exists()
    assert (
        admin_api.post(
            f"/api/v1/webhooks/{endpoint.pk}/replay-failed/", {"since": until, "until": since}, format="json"
        ).status_code
        == 422
    )


def test_the_delivery_log_takes_the_same_queries_for_3_rows_as_for_30(tenant, admin_api):
    endpoint, _ = make_endpoint(tenant, "http://127.0.0.1:9/hooks")

    def add(count):
        for _ in range(count):
            with transaction.atomic():
                services.event_record(tenant=tenant, type="connection.connected", payload=CONNECTED)

    add(3)
    admin_api.get("/api/v1/webhooks/")  # the token's first use of the day is written once
    with CaptureQueriesContext(connection) as few:
        assert len(admin_api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]) == 3
    add(27)
    with CaptureQueriesContext(connection) as many:
        assert len(admin_api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]) == 30
    assert len(many) == len(few), "\n".join(q["sql"][:150] for q in many.captured_queries)


def test_the_openapi_document_has_every_event_payload_schema(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for name, event in CATALOGUE.items():
        component = schema["components"]["schemas"]["WebhookEvent_" + name.replace(".", "_")]
        assert component["properties"]["data"]["properties"].keys() == event.properties.keys()
        assert name in schema["x-webhooks"]
    assert "/api/v1/webhooks/{id}/replay-failed/" in schema["paths"]
    types = admin_api.get("/api/v1/webhooks/event-types/").json()
    assert {row["name"] for row in types} == set(CATALOGUE)


def test_the_admin_adds_an_endpoint_shows_the_secret_once_and_replays_from_the_log(admin_client, tenant, other_tenant):
    added = admin_client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {
            "url": "http://127.0.0.1:9/hooks",
            "description": "back office",
            "event_types": ["export.ready"],
            "enabled": "on",
        },
    )
    assert added.status_code == 200 and "no-store" in added["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.tenant == tenant and endpoint.event_types == ["export.ready"]
    assert endpoint.secret in added.content.decode()
    page = admin_client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200 and endpoint.secret not in page.content.decode()

    rotated = admin_client.post(
        "/admin/webhooks/webhookendpoint/", {"action": "rotate_secret", "_selected_action": [endpoint.pk]}
    )
    endpoint.refresh_from_db()
    assert rotated.status_code == 200 and endpoint.secret in rotated.content.decode()
    assert endpoint.previous_secret not in rotated.content.decode()

    theirs, _ = make_endpoint(other_tenant, "http://127.0.0.1:9/theirs")
    for owner in (tenant, other_tenant):
        with transaction.atomic():
            services.event_record(
                tenant=owner,
                type="export.ready",
                payload={"export_id": 1, "format": "csv", "rows": 3, "sha256": "ab", "expires_at": timezone.now()},
            )
    WebhookDelivery.objects.update(status="failed")
    listing = admin_client.get("/admin/webhooks/webhookendpoint/").content.decode()
    assert f"/admin/webhooks/webhookdelivery/?endpoint={endpoint.pk}" in listing
    log = admin_client.get(f"/admin/webhooks/webhookdelivery/?endpoint={endpoint.pk}&status__exact=failed")
    mine = WebhookDelivery.objects.get(endpoint=endpoint)
    assert mine.webhook_id in log.content.decode()
    assert WebhookDelivery.objects.get(endpoint=theirs).webhook_id not in log.content.decode()
    assert admin_client.get(f"/admin/webhooks/webhookendpoint/{theirs.pk}/change/").status_code == 302
    admin_client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "replay", "_selected_action": [mine.pk, WebhookDelivery.objects.get(endpoint=theirs).pk]},
    )
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == "pending"
    assert WebhookDelivery.objects.get(endpoint=theirs).status == "failed"
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.endpoint_created").exists()


def test_input_of_the_wrong_type_is_refused_not_converted(admin_api, tenant):
    endpoint, _ = make_endpoint(tenant, "http://127.0.0.1:9/hooks")
    assert (
        admin_api.post("/api/v1/webhooks/", {"url": "https://0.com", "description": 0}, format="json").status_code
        == 400
    )
    assert admin_api.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"enabled": "no"}, format="json").status_code == 400
    assert admin_api.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"enabled": False}).status_code == 415  # a form
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).status == "enabled"
    assert not WebhookEndpoint.objects.exclude(pk=endpoint.pk).exists()
