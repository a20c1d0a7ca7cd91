"""Withdrawals and exports through the API, against the live sandbox; Idempotency-Key on submit."""

import pyotp
import pytest
import requests
from allauth.mfa.totp.internal.auth import TOTP

from api.idempotency import fingerprint
from api.models import IdempotentRequest
from api.tokens import api_token_create
from tests.withdrawals.helpers import codes_for, sandbox_btc
from withdrawals.models import Withdrawal

pytestmark = pytest.mark.django_db(transaction=True)
PORTAL_TOTP = "JBSWY3DPEHPK3PXPAPITESTS"


@pytest.fixture
def api(portal):
    """Token access for the portal user, who has set up MFA (after connecting, which signs in without it)."""
    TOTP.activate(portal["user"], PORTAL_TOTP)
    session = requests.Session()
    session.headers["Authorization"] = (
        f"Bearer {api_token_create(tenant=portal['tenant'], user=portal['user'], name='t')[1]}"
    )
    base = portal["url"] + "/api/v1"
    session.url = lambda path: base + path
    return session


def test_a_withdrawal_end_to_end_through_the_api_with_replayed_submit(kucoin, sandbox_accounts, portal, api):  # noqa: F811
    created = api.post(
        api.url("/withdrawals/"),
        json={
            "connection": kucoin.pk,
            "currency": "BTC",
            "chain": "btc",
            "destination": "bc1qapitest0000",
            "amount": "0.01",
            "fee_deduct_type": "EXTERNAL",
        },
    )
    assert created.status_code == 201, created.text
    withdrawal_id = created.json()["id"]
    preview = api.post(api.url(f"/withdrawals/{withdrawal_id}/preview/")).json()
    assert preview["state"] == "previewed" and preview["total_debit"]

    wrong = api.post(api.url(f"/withdrawals/{withdrawal_id}/factors/"), json={"mfa_code": "000000"})
    assert wrong.status_code == 422
    factors = api.post(
        api.url(f"/withdrawals/{withdrawal_id}/factors/"), json={"mfa_code": pyotp.TOTP(PORTAL_TOTP).now()}
    ).json()
    assert factors["state"] == "factors_requested" and factors["factors_all"]

    before = sandbox_btc(sandbox_accounts["kucoin"]["trader"]["email"])
    body = {"codes": codes_for(portal, sandbox_accounts)}
    headers = {"Idempotency-Key": "submit-1"}
    first = api.post(api.url(f"/withdrawals/{withdrawal_id}/submit/"), json=body, headers=headers)
    assert first.status_code == 200, first.text
    again = api.post(api.url(f"/withdrawals/{withdrawal_id}/submit/"), json=body, headers=headers)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    debit = before - sandbox_btc(sandbox_accounts["kucoin"]["trader"]["email"])
    assert str(debit.normalize()) == str(Withdrawal.objects.get().total_debit.normalize())

    # The codes went to the exchange once and are nowhere in the replay record.
    record = IdempotentRequest.objects.get()
    assert all(code not in str(record.__dict__) for code in body["codes"].values())


def test_idempotency_key_reused_for_another_request_or_still_running(kucoin, portal, api):  # noqa: F811
    created = api.post(
        api.url("/withdrawals/"),
        json={
            "connection": kucoin.pk,
            "currency": "BTC",
            "chain": "btc",
            "destination": "bc1qapitest0001",
            "amount": "0.01",
        },
    ).json()
    IdempotentRequest.objects.create(
        tenant=portal["tenant"],
        user=portal["user"],
        key="busy",
        operation=f"withdrawal-submit:{created['id']}",
        fingerprint=fingerprint(f"withdrawal-submit:{created['id']}", {"codes": {}}, ("codes",)),
    )
    busy = api.post(
        api.url(f"/withdrawals/{created['id']}/submit/"), json={"codes": {}}, headers={"Idempotency-Key": "busy"}
    )
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "in_progress"
    other = api.post(
        api.url("/withdrawals/"),
        json={
            "connection": kucoin.pk,
            "currency": "BTC",
            "chain": "btc",
            "destination": "bc1qapitest0002",
            "amount": "0.01",
        },
    ).json()
    reused = api.post(
        api.url(f"/withdrawals/{other['id']}/submit/"), json={"codes": {}}, headers={"Idempotency-Key": "busy"}
    )
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"


def test_exports_through_the_api_are_tenant_scoped(kucoin, portal, api):  # noqa: F811
    created = api.post(
        api.url("/exports/"),
        json={
            "scope": "user",
            "kinds": ["trade"],
            "format": "koinly",
            "date_from": "2020-01-01",
            "date_to": "2026-12-31",
        },
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    assert api.get(api.url(f"/exports/{job_id}/")).json()["format"] == "koinly"
    staff_only = api.post(
        api.url("/exports/"),
        json={
            "scope": "tenant",
            "kinds": ["trade"],
            "format": "csv",
            "date_from": "2020-01-01",
            "date_to": "2026-12-31",
        },
    )
    assert staff_only.status_code == 422
    assert api.get(api.url(f"/exports/{job_id + 1000}/")).status_code == 404
