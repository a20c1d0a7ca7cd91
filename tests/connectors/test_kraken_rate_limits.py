"""Kraken turns calls away for its rate limit with HTTP 200 and an error in the body: every call of its API
client reports that as a 429 is reported (ExchangeUnavailable with retry_after), not as a refusal."""

import base64

import pytest

from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.kraken.client import RATE_LIMIT_RETRY_AFTER, RATE_LIMITED, KrakenAPI

from .canned import json_answer

API = "https://api.kraken.test"


class Connection:
    api_key = "key"
    api_secret = base64.b64encode(b"secret" * 8).decode()
    api_key_id = "7"
    details = {"api_key_name": "portal-1-abcdef"}


def kraken():
    return KrakenAPI({"api_base_url": API})


@pytest.mark.parametrize("error", sorted(RATE_LIMITED))
def test_a_rate_limited_private_call_is_exchange_unavailable_with_a_retry_time(canned_answers, error):
    canned_answers["/0/private/Withdraw"] = json_answer({"error": [error], "result": {}})
    with pytest.raises(ExchangeUnavailable) as limited:
        kraken().private(Connection(), "Withdraw", {"asset": "XXBT", "key": "my-btc", "amount": "0.01"})
    assert limited.value.retry_after == RATE_LIMIT_RETRY_AFTER and error in str(limited.value)


def test_a_retry_after_kraken_sends_is_taken(canned_answers):
    canned_answers["/0/private/Balance"] = json_answer(
        {"error": ["EAPI:Rate limit exceeded"]}, headers={"Retry-After": "12"}
    )
    with pytest.raises(ExchangeUnavailable) as limited:
        kraken().private(Connection(), "Balance")
    assert limited.value.retry_after == 12


@pytest.mark.parametrize("error", sorted(RATE_LIMITED))
def test_the_fast_api_key_calls_are_treated_alike(canned_answers, error):
    # Create and delete share one path (openapi_v3.yaml /fast-api-key: POST and DELETE; the old reading
    # deleted at /fast-api-key/<id>).
    canned_answers["/oauth/fast-api-key"] = json_answer({"error": [error]})
    with pytest.raises(ExchangeUnavailable):
        kraken().create_api_key("access", ["account.fast-api-key:write"], {})
    with pytest.raises(ExchangeUnavailable):
        kraken().delete_api_key("access", Connection())


def test_other_errors_stay_refusals(canned_answers):
    canned_answers["/0/private/Withdraw"] = json_answer({"error": ["EFunding:Insufficient funds"], "result": {}})
    with pytest.raises(ExchangeAPIError) as refused:
        kraken().private(Connection(), "Withdraw", {"asset": "XXBT", "key": "my-btc", "amount": "0.01"})
    assert refused.value.code == "EFunding:Insufficient funds"
