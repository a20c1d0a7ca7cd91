"""Events are recorded by the services that make the change, in its transaction, for the endpoints that want
them, with payloads that carry declared fields only (ids, never a secret)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from connectors.models import ExchangeConnection
from connectors.services import connection_secrets_wipe
from connectors.token_refresh import connection_mark_needs_reauthorization, connection_warn_refresh_lapse
from exports.models import ExportJob
from exports.services.jobs import export_fail, export_request, export_run
from webhooks import services
from webhooks.events import CATALOGUE, check_payload
from webhooks.models import WebhookDelivery, WebhookEvent

from .helpers import make_endpoint

pytestmark = pytest.mark.django_db

ISSUE_EVENTS = {
    "connection.connected",
    "connection.needs_reauthorization",
    "connection.repaired",
    "connection.disconnected",
    "connection.refresh_lapse_warning",
    "withdrawal.submitted",
    "withdrawal.status_changed",
    "withdrawal.limit_refused",
    "history.synced",
    "history.sync_failed",
    "export.ready",
    "export.failed",
}


def test_the_catalogue_has_every_event_with_a_schema_and_no_secret_field():
    assert set(CATALOGUE) == ISSUE_EVENTS
    secretish = ("token", "secret", "key", "passphrase", "password", "address", "destination")
    for event in CATALOGUE.values():
        schema = event.data_schema
        assert schema["properties"] and schema["additionalProperties"] is False
        assert not [name for name in schema["properties"] if any(word in name for word in secretish)], event.name
    assert "transaction_hash" in CATALOGUE["withdrawal.status_changed"].properties
    assert "exchange_withdrawal_id" in CATALOGUE["withdrawal.status_changed"].properties


def test_a_payload_with_an_undeclared_field_is_refused_before_anything_is_written(tenant):
    make_endpoint(tenant, "http://127.0.0.1:9/hooks")
    payload = {"connection_id": 1, "user_id": 1, "exchange": "kucoin", "server": "", "access_token": "x"}
    with pytest.raises(ValueError, match="access_token"):
        services.event_record(tenant=tenant, type="connection.disconnected", payload=payload)
    with pytest.raises(ValueError, match="missing"):
        check_payload("connection.disconnected", {"connection_id": 1})
    with pytest.raises(ValueError, match="catalogue"):
        check_payload("connection.exploded", {})
    assert not WebhookEvent.objects.exists()


@pytest.fixture
def connection(tenant, member):
    return ExchangeConnection.objects.create(
        tenant=tenant,
        user=member,
        exchange="kucoin",
        exchange_account_id="acct-1",
        permissions=["General"],
        access_token="access-secret-value",
        refresh_token="refresh-secret-value",
        access_expires_at=timezone.now() + timedelta(hours=1),
        refresh_expires_at=timezone.now() + timedelta(hours=20),
    )


def payloads(type_):
    return [event.payload for event in WebhookEvent.objects.filter(type=type_)]


def test_connection_services_record_their_events_for_the_endpoints_that_want_them(tenant, other_tenant, connection):
    everything, _ = make_endpoint(tenant, "http://127.0.0.1:9/all")
    only_disconnects, _ = make_endpoint(tenant, "http://127.0.0.1:9/gone", ["connection.disconnected"])
    elsewhere, _ = make_endpoint(other_tenant, "http://127.0.0.1:9/other")
    ids = {"connection_id": connection.pk, "user_id": connection.user_id, "exchange": "kucoin", "server": ""}

    with transaction.atomic():
        connection_mark_needs_reauthorization(connection=connection, reason="invalid_grant")
    assert payloads("connection.needs_reauthorization") == [{**ids, "reason": "invalid_grant"}]

    ExchangeConnection.objects.filter(pk=connection.pk).update(status="active")
    assert connection_warn_refresh_lapse(connection_id=connection.pk)
    [lapse] = payloads("connection.refresh_lapse_warning")
    assert lapse["refresh_expires_at"].startswith(str(connection.refresh_expires_at.year))

    connection_secrets_wipe(connection=connection, request=None, remote={}, hint="")
    assert payloads("connection.disconnected") == [ids]

    by_endpoint = {
        endpoint.pk: sorted(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event__type", flat=True))
        for endpoint in (everything, only_disconnects, elsewhere)
    }
    assert by_endpoint == {
        everything.pk: [
            "connection.disconnected",
            "connection.needs_reauthorization",
            "connection.refresh_lapse_warning",
        ],
        only_disconnects.pk: ["connection.disconnected"],
        elsewhere.pk: [],
    }
    for event in WebhookEvent.objects.all():
        assert "secret-value" not in str(event.payload)


def test_an_event_rolls_back_with_its_change_and_paused_endpoints_get_none(tenant, connection):
    paused, _ = make_endpoint(tenant, "http://127.0.0.1:9/paused")
    services.endpoint_update(endpoint=paused, enabled=False)
    enabled, _ = make_endpoint(tenant, "http://127.0.0.1:9/on")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            connection_mark_needs_reauthorization(connection=connection, reason="invalid_grant")
            raise RuntimeError("the change fails after the event was recorded")
    assert not WebhookEvent.objects.exists()
    connection.refresh_from_db()
    assert connection.status == "active"

    with transaction.atomic():
        connection_mark_needs_reauthorization(connection=connection, reason="invalid_grant")
    assert list(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [enabled.pk]


def test_a_failed_export_records_export_failed(tenant, broker_admin):
    make_endpoint(tenant, "http://127.0.0.1:9/hooks", ["export.failed"])
    job = ExportJob.objects.create(
        tenant=tenant,
        requested_by=broker_admin,
        scope="tenant",
        kinds=["ledger"],
        format="csv",
        date_from="2026-01-01",
        date_to="2026-02-01",
    )
    export_fail(job_id=job.pk, error="The export failed: OSError")
    assert payloads("export.failed") == [{"export_id": job.pk, "format": "csv", "error": "The export failed: OSError"}]


def test_a_withdrawal_records_submitted_then_status_changed_with_the_exchanges_id_and_hash(tenant, member, monkeypatch):
    from connectors.base.withdrawals import ExchangeStatus
    from connectors.kucoin.withdrawals import KuCoinWithdrawals
    from exports.models import HistoryEntry
    from tests.withdrawals.helpers import ready_kucoin_withdrawal, submit
    from withdrawals.services.reconcile import withdrawal_refresh_status

    make_endpoint(tenant, "http://127.0.0.1:9/hooks", ["withdrawal.submitted", "withdrawal.status_changed"])
    hooks = KuCoinWithdrawals()
    monkeypatch.setattr("withdrawals.services.exchange.exchange_context", lambda connection: (object(), hooks, None))
    hooks.submit = lambda api, connection, withdrawal, codes: "W-77"
    withdrawal = ready_kucoin_withdrawal(tenant, member)
    assert submit(withdrawal).state == "processing"
    ids = {
        "withdrawal_id": withdrawal.pk,
        "connection_id": withdrawal.connection_id,
        "user_id": member.pk,
        "exchange": "kucoin",
        "currency": "USDT",
        "chain": "",
        "amount": "100.000000000000000000",
    }
    assert payloads("withdrawal.submitted") == [{**ids, "exchange_withdrawal_id": "W-77"}]

    HistoryEntry.objects.create(
        tenant=tenant,
        connection=withdrawal.connection,
        user=member,
        exchange="kucoin",
        kind="withdrawal",
        external_id="W-77",
        occurred_at=timezone.now(),
        currency="USDT",
        amount=-100,
        txid="0xabc123",
    )
    hooks.status = lambda api, connection, withdrawal: ExchangeStatus(raw="SUCCESS", final=True, succeeded=True)
    withdrawal_refresh_status(withdrawal_id=withdrawal.pk)
    assert payloads("withdrawal.status_changed") == [
        {
            **ids,
            "state": "succeeded",
            "previous_state": "processing",
            "exchange_status": "SUCCESS",
            "exchange_withdrawal_id": "W-77",
            "transaction_hash": "0xabc123",
        }
    ]
    assert "123456" not in str(payloads("withdrawal.submitted"))  # the destination never leaves


def test_a_limit_refusal_records_withdrawal_limit_refused(tenant, member):
    from decimal import Decimal

    from tests.withdrawals.helpers import connection_of, withdrawal_of
    from withdrawals.models import WithdrawalLimit
    from withdrawals.services.limits import BrokerLimitExceeded, withdrawal_record_limit_refusal

    make_endpoint(tenant, "http://127.0.0.1:9/hooks", ["withdrawal.limit_refused"])
    withdrawal = withdrawal_of(connection_of(member, tenant), state="stepped_up")
    limit = WithdrawalLimit.objects.create(tenant=tenant, scope="per_user", window_hours=24, max_usdt=Decimal("50"))
    refusal = BrokerLimitExceeded(
        "over", withdrawal=withdrawal, limit=limit, used_usdt=Decimal("0"), value_usdt=Decimal("110")
    )
    withdrawal_record_limit_refusal(refusal=refusal)
    [payload] = payloads("withdrawal.limit_refused")
    assert (
        payload["withdrawal_id"],
        payload["limit_id"],
        payload["scope"],
        payload["max_usdt"],
        payload["window_hours"],
        payload["value_usdt"],
    ) == (withdrawal.pk, limit.pk, "per_user", "50", 24, "110")


def test_a_finished_export_records_export_ready(tenant, broker_admin, settings, tmp_path):
    from datetime import date

    from broker_portal.models import Membership

    settings.EXPORTS_DIR = tmp_path
    make_endpoint(tenant, "http://127.0.0.1:9/hooks", ["export.ready"])
    membership = Membership.objects.get(tenant=tenant, user=broker_admin)
    today = timezone.now().date()
    job = export_request(
        tenant=tenant,
        user=broker_admin,
        membership=membership,
        scope="tenant",
        kinds=["ledger"],
        export_format="csv",
        date_from=date(today.year, 1, 1),
        date_to=today,
    )
    job = export_run(job=job)
    [payload] = payloads("export.ready")
    assert payload.pop("expires_at").startswith(job.expires_at.isoformat()[:23])  # to the millisecond
    assert payload == {"export_id": job.pk, "format": "csv", "rows": 0, "sha256": job.sha256}
