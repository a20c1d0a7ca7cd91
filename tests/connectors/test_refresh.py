"""The single-flight refresh against the live sandbox over real HTTP: concurrency, on-demand retry,
invalid_grant, lost responses, and clock offsets for access and refresh expiry."""

import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import DatabaseError
from django.db import connection as db_connection
from django.utils import timezone

from broker_portal.models import AuditEvent
from connectors import token_refresh
from connectors.base.api import AccessTokenExpired
from connectors.models import ExchangeConnection
from connectors.peatio.client import PeatioAPI
from connectors.tasks import refresh_connection
from connectors.token_refresh import Outcome, call_with_fresh_token, connection_refresh, connections_sweep
from sandbox import clock as sandbox_clock
from sandbox import faults as sandbox_faults
from sandbox.models import Token as SandboxToken

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]


def sandbox_family(connection) -> list[SandboxToken]:
    first = SandboxToken.objects.get(refresh_token=connection.refresh_token) if connection.refresh_token else None
    return list(SandboxToken.objects.filter(family=first.family).order_by("id"))


def original_family(refresh_token: str) -> list[SandboxToken]:
    family = SandboxToken.objects.get(refresh_token=refresh_token).family
    return list(SandboxToken.objects.filter(family=family).order_by("id"))


def kucoin_accounts(portal, connection):
    """A real call with the access token as Bearer; 401 is the exchange saying the token is no good."""
    response = requests.get(
        f"{portal['url']}/sandbox/kucoin/api/v1/accounts",
        headers={"Authorization": f"Bearer {connection.access_token}"},
        timeout=10,
    )
    if response.status_code == 401:
        raise AccessTokenExpired("Access token refused.")
    assert response.json()["code"] == "200000", response.text
    return response.json()["data"]


def test_twenty_parallel_refreshes_make_one_token_call_and_agree(portal, make_connection, token_calls):
    connection = make_connection("kucoin")
    original_refresh, original_access = connection.refresh_token, connection.access_token
    barrier = threading.Barrier(20)
    results, tokens, errors = [], [], []

    def refresher(index):
        try:
            barrier.wait()
            # Half come from the sweep's workers, half from API calls that met the old token.
            if index % 2:
                result = connection_refresh(connection_id=connection.pk)
            else:
                result = connection_refresh(connection_id=connection.pk, stale_access_token=original_access)
            results.append(result.outcome)
            tokens.append(ExchangeConnection.objects.get(pk=connection.pk).access_token)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=refresher, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(token_calls) == 1
    assert sorted(results) == sorted([Outcome.REFRESHED] + [Outcome.FRESH] * 19)
    assert len(set(tokens)) == 1 and tokens[0] != original_access
    family = original_family(original_refresh)
    assert len(family) == 2 and all(token.revoked_at is None for token in family)
    connection.refresh_from_db()
    assert connection.status == "active" and connection.refresh_token == family[1].refresh_token
    assert kucoin_accounts(portal, connection)


def test_not_due_is_left_alone_and_force_refreshes(make_connection, token_calls):
    connection = make_connection("kraken", access_expires_in=timedelta(hours=1))
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.FRESH
    assert token_calls == []
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
    connection.refresh_from_db()
    assert connection.access_expires_at > timezone.now() + timedelta(hours=23)
    assert connection.last_refreshed_at and connection.refresh_failures == 0


def test_okx_is_never_refreshed_nor_flagged_when_its_access_token_lapses(make_connection, token_calls, mailoutbox):
    """OKX Fast API: the access token (1 h, no refresh token) only creates the key; the key is the credential
    (okx/builder-integration-demo, demos/third-party-fastapi/INTEGRATION_GUIDE.md, Hard Constraints)."""
    connection = make_connection(
        "okx",
        access_expires_in=timedelta(minutes=-5),
        refresh_token="",
        refresh_expires_at=timezone.now() + timedelta(hours=1),
    )
    assert connections_sweep() == {"enqueued": 0, "warned": 0}
    for force in (False, True):
        assert connection_refresh(connection_id=connection.pk, force=force).outcome == Outcome.SKIPPED
    assert token_refresh.connection_warn_refresh_lapse(connection_id=connection.pk) is False
    connection.refresh_from_db()
    assert connection.status == "active" and connection.refresh_lapse_warned_at is None
    assert token_calls == [] and mailoutbox == []
    assert not AuditEvent.objects.filter(
        action__in=["connection.needs_reauthorization", "connection.refresh_lapsing"]
    ).exists()


def test_peatio_expired_key_on_demand_refreshes_once_and_rotates_the_api_key(portal, make_connection, token_calls):
    # Our clock still thinks the token is good for hours; the exchange's is 4 h ahead.
    connection = make_connection("peatio", access_expires_in=timedelta(hours=3, minutes=59))
    old_key = connection.api_key
    sandbox_clock.set_offset(4 * 3600 + 60)
    api = PeatioAPI({"api_base_url": f"{portal['url']}/sandbox/peatio"})
    with pytest.raises(AccessTokenExpired):
        api.balances(connection)
    balances = call_with_fresh_token(connection=connection, call=api.balances)
    assert {balance.currency for balance in balances} >= {"BTC", "USDT"}
    assert len(token_calls) == 1
    stored = ExchangeConnection.objects.get(pk=connection.pk)
    assert stored.api_key != old_key and f"{stored.api_key}:{stored.api_secret}" == stored.access_token
    assert connection.api_key == stored.api_key  # the caller's instance was re-read


def test_call_racing_a_siblings_refresh_rereads_instead_of_refreshing(portal, make_connection, token_calls):
    connection = make_connection("kucoin", access_expires_in=timedelta(minutes=30))
    seen_by_caller = ExchangeConnection.objects.get(pk=connection.pk)
    # A sibling rotates the pair after the caller read the row.
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
    assert len(token_calls) == 1
    data = call_with_fresh_token(connection=seen_by_caller, call=lambda c: kucoin_accounts(portal, c))
    assert data and len(token_calls) == 1
    assert seen_by_caller.access_token == ExchangeConnection.objects.get(pk=connection.pk).access_token


def test_invalid_grant_flags_reauthorization_with_email_banner_and_audit(
    portal, browser_session, make_connection, token_calls, mailoutbox
):
    connection = make_connection("kraken")
    SandboxToken.objects.filter(refresh_token=connection.refresh_token).update(revoked_at=timezone.now())
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.NEEDS_REAUTHORIZATION
    connection.refresh_from_db()
    assert connection.status == "needs_reauthorization"
    event = AuditEvent.objects.get(action="connection.needs_reauthorization")
    assert event.target_id == str(connection.pk) and event.details["reason"] == "invalid_grant"
    assert len(mailoutbox) == 1 and "reconnect your Kraken" in mailoutbox[0].subject
    assert mailoutbox[0].to == [portal["user"].email]
    assert connection.refresh_token not in mailoutbox[0].body
    dashboard = browser_session.session.get(f"{portal['url']}/").text
    assert "banner reauthorize" in dashboard and "Reconnect Kraken" in dashboard
    # Flagged connections are not swept again: one token call in all.
    assert connections_sweep()["enqueued"] == 0
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.SKIPPED
    assert len(token_calls) == 1


def test_lost_response_after_our_commit_failed_ends_flagged_not_looping(make_connection, token_calls, monkeypatch):
    connection = make_connection("kucoin")

    def failing_write(instance, fields, **fence):
        raise DatabaseError("could not commit")

    with monkeypatch.context() as patch:
        patch.setattr("connectors.token_refresh.update_fields", failing_write)
        with pytest.raises(DatabaseError):
            connection_refresh(connection_id=connection.pk)
    # The sandbox rotated; we still hold the spent refresh token. Reusing it is refused and revokes the family.
    refresh_connection.delay(connection.pk)
    connection.refresh_from_db()
    assert connection.status == "needs_reauthorization"
    assert connections_sweep()["enqueued"] == 0
    assert len(token_calls) == 2


def test_lost_response_by_timeout_ends_flagged_not_looping(make_connection, token_calls, settings):
    connection = make_connection("kraken")
    settings.EXCHANGE_HTTP_TIMEOUT = (2, 0.4)
    sandbox_faults.fault_set(exchange="kraken", endpoint="token", kind="slow", count=1, delay_seconds=1.0)
    result = connection_refresh(connection_id=connection.pk)
    assert result.outcome == Outcome.RETRY and result.retry_at > timezone.now()
    # The sandbox answers after we gave up: it rotated, and the answer is lost.
    for _ in range(50):
        if len(original_family(connection.refresh_token)) == 2:
            break
        time.sleep(0.1)
    assert len(original_family(connection.refresh_token)) == 2
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.NEEDS_REAUTHORIZATION
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.SKIPPED
    assert len(token_calls) == 2


def test_refresh_token_expired_at_the_exchange_by_clock_offset(make_connection, token_calls, mailoutbox):
    connection = make_connection("kucoin")
    sandbox_clock.set_offset(3 * 24 * 3600 + 60)
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.NEEDS_REAUTHORIZATION
    assert len(token_calls) == 1 and len(mailoutbox) == 1


def test_refresh_token_expired_by_our_clock_is_flagged_without_a_call(make_connection, token_calls):
    connection = make_connection("kucoin", refresh_expires_at=timezone.now() - timedelta(minutes=1))
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.NEEDS_REAUTHORIZATION
    assert token_calls == []
    assert (
        AuditEvent.objects.get(action="connection.needs_reauthorization").details["reason"] == "refresh token expired"
    )


def test_proactive_refresh_keeps_a_connection_alive_past_its_first_refresh_token(make_connection, token_calls):
    """Four days of sandbox time in hourly steps: every refresh extends the refresh token too."""
    connection = make_connection("kucoin")
    for hour in range(1, 97, 8):
        sandbox_clock.set_offset(hour * 3600)
        assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
    connection.refresh_from_db()
    assert connection.status == "active" and len(token_calls) == 12


def test_429_honours_retry_after_and_backs_off(make_connection, token_calls):
    connection = make_connection("kraken")
    sandbox_faults.fault_set(exchange="kraken", endpoint="token", kind="429", count=1, retry_after=600)
    before = timezone.now()
    result = connection_refresh(connection_id=connection.pk)
    assert result.outcome == Outcome.RETRY and result.retry_at >= before + timedelta(seconds=600)
    connection.refresh_from_db()
    assert connection.refresh_failures == 1 and "trying again" in connection.last_error
    assert AuditEvent.objects.filter(action="connection.refresh_failing").count() == 1
    # In backoff: the sweep leaves it alone.
    assert connections_sweep()["enqueued"] == 0
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.REFRESHED
    connection.refresh_from_db()
    assert (
        connection.refresh_failures == 0 and connection.last_error == "" and connection.next_refresh_attempt_at is None
    )


def test_backoff_grows_with_jitter_and_stays_inside_the_refresh_tokens_life():
    delays = [
        token_refresh.refresh_retry_delay(failures=n, retry_after=None, refresh_left=None).total_seconds()
        for n in range(1, 12)
    ]
    assert 15 <= delays[0] <= 30 and delays[3] >= 120 and max(delays) <= 1800
    assert token_refresh.refresh_retry_delay(failures=1, retry_after=90, refresh_left=None).total_seconds() >= 90
    bounded = token_refresh.refresh_retry_delay(failures=10, retry_after=None, refresh_left=timedelta(minutes=10))
    assert bounded <= timedelta(minutes=5)


def test_failing_refresh_near_the_lapse_flags_the_connection_once(make_connection, token_calls, mailoutbox):
    connection = make_connection("kraken", refresh_expires_at=timezone.now() + timedelta(hours=6))
    sandbox_faults.fault_set(exchange="kraken", endpoint="token", kind="500")
    for _ in range(2):
        result = connection_refresh(connection_id=connection.pk)
        assert result.outcome == Outcome.RETRY and result.retry_at < connection.refresh_expires_at
    connection.refresh_from_db()
    assert connection.refresh_lapse_warned_at is not None
    assert AuditEvent.objects.filter(action="connection.refresh_lapsing").count() == 1
    assert [m.subject for m in mailoutbox] == ["Live Broker: your Kraken connection may need reconnecting soon"]
    sandbox_faults.fault_clear()
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.REFRESHED
    connection.refresh_from_db()
    assert connection.refresh_lapse_warned_at is None


def test_a_refresh_costs_at_most_four_queries(make_connection, django_assert_max_num_queries, token_calls):
    first, second = make_connection("kucoin"), make_connection("kucoin")
    assert connection_refresh(connection_id=first.pk).outcome == Outcome.REFRESHED  # builds the provider
    with django_assert_max_num_queries(4):  # BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT
        assert connection_refresh(connection_id=second.pk).outcome == Outcome.REFRESHED


def test_a_changed_credential_is_used_at_once(portal, make_connection, token_calls):
    from connectors.models import ExchangeCredential

    connection = make_connection("kucoin")
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
    credential = ExchangeCredential.objects.get(tenant=portal["tenant"], exchange="kucoin")
    # KuCoin's refresh names the client (client_id); its secret goes only where the credential says so.
    credential.client_id, credential.client_secret = "not-the-client", "not-the-secret"
    credential.settings = {**credential.settings, "token_sends_client_secret": True}
    credential.save()
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.FAILED
    connection.refresh_from_db()
    assert connection.status == "error" and "refused" in connection.last_error
    assert "not-the-secret" not in connection.last_error


def test_on_demand_refresh_respects_a_scheduled_retry(portal, make_connection, token_calls):
    connection = make_connection("peatio")
    sandbox_faults.fault_set(exchange="peatio", endpoint="token", kind="500", count=1)
    assert connection_refresh(connection_id=connection.pk).outcome == Outcome.RETRY
    sandbox_clock.set_offset(4 * 3600 + 60)
    api = PeatioAPI({"api_base_url": f"{portal['url']}/sandbox/peatio"})
    with pytest.raises(token_refresh.RefreshFailed):
        call_with_fresh_token(connection=connection, call=api.balances)
    assert len(token_calls) == 1  # the API call did not add a token call while the retry is pending


def test_kraken_fast_api_key_call_with_an_expired_token_is_refreshed_once_and_retried(
    portal, make_connection, token_calls
):
    from connectors.kraken.client import KrakenAPI

    connection = make_connection("kraken", access_expires_in=timedelta(hours=23))
    sandbox_clock.set_offset(24 * 3600 + 60)  # Kraken answers HTTP 200 {"error": ["EOAuth:Invalid token (expired)"]}
    api = KrakenAPI({"api_base_url": f"{portal['url']}/sandbox/kraken"})
    write = ["account.fast-api-key:write", "account.fast-api-key:funds-query"]
    with pytest.raises(AccessTokenExpired):
        api.create_api_key(connection.access_token, write, {})
    key = call_with_fresh_token(connection=connection, call=lambda c: api.create_api_key(c.access_token, write, {}))
    assert key.key and key.key_id and len(token_calls) == 1
