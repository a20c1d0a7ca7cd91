"""Peatio: a call signed with a key pair that a sibling's refresh has just replaced is retried once with the
fresh pair. hpyhacking/peatio (2017) lib/doorkeeper/access_token.rb#revoke destroys the replaced token's APIToken,
so keypair_authenticator.rb#check_token! answers 2008 ("does not exist"); 2009 is only the member's api_disabled."""

from datetime import timedelta

import pytest

from connectors.key_health import CheckOutcome, connection_check_api_key
from connectors.models import ExchangeConnection
from connectors.peatio.client import PeatioAPI
from connectors.token_refresh import Outcome, RefreshFailed, call_with_fresh_token, connection_refresh

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]


def peatio_api(portal):
    return PeatioAPI({"api_base_url": f"{portal['url']}/sandbox/peatio"})


def test_a_call_with_the_pair_a_sibling_replaced_is_retried_with_the_fresh_pair(portal, make_connection, token_calls):
    connection = make_connection("peatio", access_expires_in=timedelta(hours=2))
    seen_by_caller = ExchangeConnection.objects.get(pk=connection.pk)
    assert connection_refresh(connection_id=connection.pk, force=True).outcome == Outcome.REFRESHED
    balances = call_with_fresh_token(connection=seen_by_caller, call=peatio_api(portal).balances)
    assert {balance.currency for balance in balances} >= {"BTC", "USDT"}
    assert len(token_calls) == 1  # the sibling's refresh only: re-reading the row was enough
    stored = ExchangeConnection.objects.get(pk=connection.pk)
    assert stored.status == "active" and seen_by_caller.api_key == stored.api_key


def test_the_key_check_racing_a_siblings_refresh_does_not_flag_the_connection(
    portal, make_connection, token_calls, monkeypatch
):
    connection = make_connection("peatio", access_expires_in=timedelta(hours=2))
    from connectors import key_health

    real_check = PeatioAPI.check_api_key

    def check_after_a_sibling_rotated(api, seen):
        # The sibling's refresh commits after the check read the row, before its signed call.
        connection_refresh(connection_id=seen.pk, force=True)
        return real_check(api, seen)

    monkeypatch.setattr(PeatioAPI, "check_api_key", check_after_a_sibling_rotated)
    monkeypatch.setattr(key_health, "connection_api", lambda connection: peatio_api(portal))
    assert connection_check_api_key(connection_id=connection.pk) != CheckOutcome.INVALID
    assert ExchangeConnection.objects.get(pk=connection.pk).status == "active"


def test_a_pair_that_is_gone_without_a_sibling_refresh_asks_the_user_to_connect_again(
    portal, make_connection, token_calls, mailoutbox
):
    connection = make_connection("peatio", access_expires_in=timedelta(hours=2))
    stale = ExchangeConnection.objects.get(pk=connection.pk)
    connection_refresh(connection_id=connection.pk, force=True)
    # The row itself carries the replaced pair (e.g. restored from a backup): no fresh pair to retry with.
    current = ExchangeConnection.objects.get(pk=connection.pk)
    current.api_key, current.api_secret = stale.api_key, stale.api_secret
    current.save(update_fields=["api_key", "api_secret"])
    with pytest.raises(RefreshFailed):
        call_with_fresh_token(connection=current, call=peatio_api(portal).balances)
    assert ExchangeConnection.objects.get(pk=connection.pk).status == "needs_reauthorization"
