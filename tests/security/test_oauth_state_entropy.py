"""The OAuth ``state`` a connect flow sends is unguessable: at least 128 bits (RFC 6749 §10.10 asks a
guess to succeed with a probability of at most 2^-128, and should of at most 2^-160; RFC 9700 §4.7.1)."""

import math
import re

import pytest

from tests.connectors.helpers import query_of

pytestmark = pytest.mark.django_db(transaction=True)

URL_SAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+")


@pytest.mark.parametrize("exchange, permissions", [("kraken", ["account.info:basic"]), ("kucoin", ["API_COMMON"])])
def test_the_state_carries_at_least_160_bits_and_is_new_every_time(browser_session, portal, exchange, permissions):
    states = [query_of(browser_session.start_connect(exchange, permissions))["state"] for _ in range(3)]
    assert len(set(states)) == 3
    for state in states:
        # URL-safe base64 of random bytes: six bits a character, the most any URL-safe alphabet gives.
        assert URL_SAFE_BASE64.fullmatch(state), state
        assert len(state) * math.log2(64) >= 160, f"{state!r} carries {len(state) * math.log2(64):.0f} bits at most"
