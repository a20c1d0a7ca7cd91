"""The compiled-once statements of the refresh's hot path mean what the ORM means."""

from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from broker_portal.models import AuditEvent
from broker_portal.prepared_sql import PreparedLookup, update_fields
from connectors.models import ExchangeConnection

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(tenant, member):
    return ExchangeConnection.objects.create(
        tenant=tenant,
        user=member,
        exchange="kucoin",
        permissions=["API_COMMON"],
        access_token="access-one",
        refresh_token="refresh-one",
        access_expires_at=timezone.now() + timedelta(hours=1),
        details={"region": "eu"},
    )


def test_lookup_reads_what_the_orm_reads_with_annotations_and_decrypted_fields(stored):
    queryset = ExchangeConnection.objects.annotate(tenant_slug=F("tenant__slug"))
    lookup = PreparedLookup(queryset)
    found = lookup.get(stored.pk)
    expected = queryset.get(pk=stored.pk)
    assert found.pk == stored.pk and found.tenant_slug == expected.tenant_slug == "alpha"
    assert (found.access_token, found.refresh_token) == ("access-one", "refresh-one")
    assert found.details == {"region": "eu"} and found.permissions == ["API_COMMON"]
    assert found.access_expires_at == expected.access_expires_at
    assert lookup.get(stored.pk + 1000) is None


@pytest.mark.django_db(transaction=True)
def test_locking_lookup_skips_a_row_another_transaction_holds(stored):
    lookup = PreparedLookup(ExchangeConnection.objects.select_for_update(no_key=True, skip_locked=True))
    with transaction.atomic():  # like select_for_update, a locking lookup compiles only in a transaction
        sql = lookup.sql("default")
    other = connections.create_connection("default")  # a second session, as another worker would have
    try:

        def seen_by_other() -> list:
            with other.cursor() as cursor:
                cursor.execute(sql, [stored.pk])
                return cursor.fetchall()

        assert len(seen_by_other()) == 1
        with transaction.atomic():
            assert "FOR NO KEY UPDATE SKIP LOCKED" in sql
            assert lookup.get(stored.pk).pk == stored.pk
            assert seen_by_other() == []
        assert len(seen_by_other()) == 1
    finally:
        other.close()


def test_deferred_fields_are_not_read_and_load_on_access(stored):
    found = PreparedLookup(ExchangeConnection.objects.defer("api_key", "refresh_token")).get(stored.pk)
    assert found.get_deferred_fields() == {"api_key", "refresh_token"}
    assert found.access_token == "access-one" and found.refresh_token == "refresh-one"  # the latter loaded now


def test_lookup_refuses_select_related(stored):
    with pytest.raises(ValueError):
        PreparedLookup(ExchangeConnection.objects.select_related("tenant")).get(stored.pk)


def test_lookup_refuses_a_queryset_with_parameters_of_its_own(stored):
    # The compiled SQL would otherwise carry the first call's values, or bind the id to the wrong placeholder.
    lookup = PreparedLookup(ExchangeConnection.objects.filter(exchange="kucoin"))
    with pytest.raises(ValueError):
        lookup.get(stored.pk)


def test_update_encrypts_applies_auto_now_and_writes_only_the_named_fields(stored):
    before = stored.updated_at
    ExchangeConnection.objects.filter(pk=stored.pk).update(last_error="set elsewhere")
    stored.access_token, stored.refresh_failures = "access-two", 3
    stored.last_error = "not written"
    assert update_fields(stored, ["access_token", "refresh_failures", "updated_at"]) == 1
    again = ExchangeConnection.objects.get(pk=stored.pk)
    assert (again.access_token, again.refresh_failures, again.last_error) == ("access-two", 3, "set elsewhere")
    assert again.updated_at > before
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM connectors_exchangeconnection WHERE id = %s", [stored.pk])
        stored_text = cursor.fetchone()[0]
    assert "access-two" not in str(stored_text)


def test_update_of_a_row_that_is_gone_answers_zero(stored):
    ExchangeConnection.objects.filter(pk=stored.pk).delete()
    assert update_fields(stored, ["access_token"]) == 0


def prepared_plans(sql_start: str) -> tuple[int, int]:
    """(generic, custom) plans PostgreSQL made for this session's prepared statement that starts so."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s", [sql_start + "%"]
        )
        return cursor.fetchone() or (0, 0)


@pytest.mark.parametrize("mode, generic", [("force_custom_plan", False), ("auto", True)])
def test_tenant_queries_are_planned_for_their_own_tenant(tenant, other_tenant, member, mode, generic):
    """psycopg prepares a statement on its fifth run, and PostgreSQL may then keep one generic plan for every
    tenant; the portal's sessions ask for custom plans (DATABASE_PLAN_CACHE_MODE). ``auto`` is the control: the
    same runs do get a generic plan there, so the check can fail."""
    assert connection.settings_dict["OPTIONS"]["prepare_threshold"] == 5
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_custom_plan"  # as the settings start every session
        cursor.execute(f"SET plan_cache_mode = {mode}")
    try:
        for n in range(12):
            list(AuditEvent.objects.filter(tenant=(tenant, other_tenant)[n % 2]).order_by("-created_at")[:20])
        generic_plans, custom_plans = prepared_plans('SELECT "broker_portal_auditevent"."id"')
        assert custom_plans > 0 and (generic_plans > 0) == generic
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET plan_cache_mode")
