"""The signature checks against the exchanges' published vectors, and the fee arithmetic."""

from decimal import Decimal

from sandbox import signing
from sandbox.exchanges import CURRENCIES
from sandbox.funds import oauth_service_fee, round_up
from sandbox.oauth import kucoin_raw_redirect_uri


def test_kraken_published_vector():
    secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    post_data = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert signing.kraken_signature(secret, "/0/private/AddOrder", "1616492376594", post_data) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


def test_peatio_published_vector():
    params = {"access_key": "xxx", "foo": "bar", "tonce": "123456789", "signature": "ignored"}
    assert (
        signing.peatio_payload("GET", "/api/v2/markets", params)
        == "GET|/api/v2/markets|access_key=xxx&foo=bar&tonce=123456789"
    )
    assert signing.peatio_signature("yyy", "GET", "/api/v2/markets", params) == (
        "e324059be4491ed8e528aa7b8735af1e96547fbec96db962d51feb7bf1b64dee"
    )


def test_peatio_signs_the_sorted_query_unescaped():
    # keypair_authenticator.rb: URI.unescape(params.sort.to_param); the old reading signed it escaped.
    params = {"tonce": "1", "access_key": "xxx", "from": "2017-12-01T00:00:00+08:00", "signature": "ignored"}
    assert signing.peatio_payload("GET", "/api/v2/trades/my", params) == (
        "GET|/api/v2/trades/my|access_key=xxx&from=2017-12-01T00:00:00+08:00&tonce=1"
    )


def test_kucoin_and_okx_signatures_are_base64_hmac_sha256():
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"s", b"1GET/api/v1/accounts", hashlib.sha256).digest()).decode()
    assert signing.kucoin_signature("s", "1", "get", "/api/v1/accounts", "") == expected
    assert signing.okx_signature("s", "1", "GET", "/api/v1/accounts", "") == expected
    assert (
        signing.kucoin_passphrase("s", "p") == base64.b64encode(hmac.new(b"s", b"p", hashlib.sha256).digest()).decode()
    )


def test_kucoin_raw_redirect_uri_keeps_its_own_query():
    raw = "response_type=code&client_id=c&redirect_uri=https://b.test/cb?x=1&y=2&scope=S&state=st"
    assert kucoin_raw_redirect_uri(raw) == "https://b.test/cb?x=1&y=2"


def test_oauth_service_fee_bounds_and_rounding():
    usdt, btc = CURRENCIES["USDT"], CURRENCIES["BTC"]
    assert oauth_service_fee(usdt, Decimal("100")) == Decimal("10")
    assert oauth_service_fee(usdt, Decimal("5")) == Decimal("1")  # minimum 1 USDT
    assert oauth_service_fee(usdt, Decimal("1000")) == Decimal("30")  # maximum 30 USDT
    # 30 USDT of BTC at 65000 = 0.000461538...: the maximum is rounded down to 8 places, never above 30 USDT
    assert oauth_service_fee(btc, Decimal("1")) == Decimal("0.00046153")
    # The minimum is rounded up: 1 USDT of BTC = 0.0000153846... -> 0.00001539
    assert oauth_service_fee(btc, Decimal("0.0001")) == Decimal("0.00001539")
    assert round_up(Decimal("0.123451"), 5) == Decimal("0.12346")
