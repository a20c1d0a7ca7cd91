import pytest
import requests


@pytest.mark.django_db(transaction=True)
def test_kucoin_key_and_accounts(base, kucoin_key):
    from .support import kucoin_request
    key = kucoin_key()
    response = kucoin_request(base + "/kucoin", key, "kc-secret", "GET", "/api/v1/accounts")
    assert response.status_code == 200, response.text
    assert response.json()["code"] == "200000"
