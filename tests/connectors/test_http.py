"""The one HTTP policy for exchange calls, against the sandbox's injected faults."""

import pytest

from connectors.base.http import ExchangeUnavailable, HostNotAllowed, exchange_session
from sandbox.faults import fault_set
from sandbox.services import client_register

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_read_is_retried_once_after_a_server_error(live_server):
    fault_set(exchange="kucoin", endpoint="prices", kind="500", count=1)
    with exchange_session(allowed_base_urls=[live_server.url]) as session:
        response = session.get(f"{live_server.url}/sandbox/kucoin/api/v1/prices")
    assert response.status_code == 200


def test_a_read_that_spends_something_is_sent_once(live_server):
    fault_set(exchange="kucoin", endpoint="prices", kind="500", count=1)
    with exchange_session(allowed_base_urls=[live_server.url]) as session:
        with pytest.raises(ExchangeUnavailable):
            session.request("GET", f"{live_server.url}/sandbox/kucoin/api/v1/prices", retry=False)
        with pytest.raises(HostNotAllowed):
            session.request("GET", "http://elsewhere.example/api", retry=False)


def test_a_write_is_never_repeated(live_server):
    # KuCoin's refresh is a POST on its www host (its access-token call is a GET).
    fault_set(exchange="kucoin", endpoint="refresh-token", kind="500", count=1)
    with exchange_session(allowed_base_urls=[live_server.url]) as session:
        with pytest.raises(ExchangeUnavailable):
            session.post(f"{live_server.url}/sandbox/kucoin-www/_oauth/refresh-token", data={})
        # The fault was used up by the one attempt: a second POST reaches the endpoint.
        assert session.post(f"{live_server.url}/sandbox/kucoin-www/_oauth/refresh-token", data={}).status_code == 400


def test_rate_limits_are_not_retried_here_and_carry_retry_after(live_server):
    fault_set(exchange="kucoin", endpoint="prices", kind="429", count=2, retry_after=7)
    with exchange_session(allowed_base_urls=[live_server.url]) as session:
        with pytest.raises(ExchangeUnavailable) as error:
            session.get(f"{live_server.url}/sandbox/kucoin/api/v1/prices")
    assert error.value.retry_after == 7


def test_credentials_go_only_to_configured_hosts(live_server):
    with exchange_session(allowed_base_urls=[live_server.url]) as session:
        with pytest.raises(HostNotAllowed):
            session.get("http://127.0.0.2:9/elsewhere", headers={"Authorization": "Bearer secret"})


def test_the_pooled_session_keeps_no_cookie_from_an_exchange(live_server):
    client_register(
        exchange="kraken",
        client_id="cookie-test",
        client_secret="s",
        redirect_uris=["http://broker.test/cb"],
        permissions=["account.info:basic"],
    )
    consent_page = (
        f"{live_server.url}/sandbox/kraken/oauth/authorize?client_id=cookie-test&response_type=code"
        f"&redirect_uri=http://broker.test/cb&scope=account.info:basic&state=s"
    )
    with exchange_session(allowed_base_urls=[live_server.url]) as session:
        response = session.get(consent_page)
        assert "csrftoken" in response.headers.get("Set-Cookie", "")  # the exchange's page sets cookies…
        assert len(session.cookies) == 0  # …which an API session shared by many users must not keep
    with exchange_session(allowed_base_urls=[live_server.url]) as again:
        assert again is session  # the same keep-alive connections serve the next call


def test_the_environment_proxy_is_used_unless_no_proxy_names_the_exchange(live_server, monkeypatch):
    # Brokers route exchange calls through a fixed egress (exchanges allow-list IP addresses): the proxy from
    # the environment applies, read once when the session is made, and NO_PROXY still exempts a host.
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    with exchange_session(allowed_base_urls=[live_server.url], timeout=(2, 5)) as session:
        with pytest.raises(ExchangeUnavailable):
            session.get(f"{live_server.url}/sandbox/kucoin/api/v1/prices")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # Another timeout, so another pooled session: one made now, under the new environment.
    with exchange_session(allowed_base_urls=[live_server.url], timeout=(2, 6)) as session:
        assert session.get(f"{live_server.url}/sandbox/kucoin/api/v1/prices").status_code == 200
