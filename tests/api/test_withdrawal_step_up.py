"""The step-up before the exchange's factors: a wrong portal MFA code is refused and audited, and a code taken
once is refused the same way by the page and the API, which step up through the same service."""

import html
from datetime import timedelta

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.utils import timezone

from broker_portal.models import AuditEvent
from tests.withdrawals.helpers import connection_of, withdrawal_of
from withdrawals.models import Withdrawal
from withdrawals.services.step_up import CODE_REFUSED

pytestmark = pytest.mark.django_db

PORTAL_TOTP_SECRET = "JBSWY3DPEHPK3PXPSTEPUPAB"


def test_a_wrong_portal_mfa_code_is_refused_and_audited(api, tenant, member):
    withdrawal = withdrawal_of(
        connection_of(member, tenant), state="previewed", exchange_withdrawal_id="", submit_started_at=None
    )
    answer = api.post(f"/api/v1/withdrawals/{withdrawal.pk}/factors/", {"mfa_code": "000000"}, format="json")
    assert answer.status_code == 422
    event = AuditEvent.objects.get(action="withdrawal.step_up_refused", target_id=str(withdrawal.pk))
    assert event.tenant_id == tenant.pk and event.actor_id == member.pk
    assert "000000" not in str(event.details)


def test_the_page_and_the_api_refuse_a_replayed_code_with_the_same_words(api, tenant, member, client_at):
    TOTP.activate(member, PORTAL_TOTP_SECRET)
    connection = connection_of(member, tenant)
    fresh = {
        "state": "previewed",
        "exchange_withdrawal_id": "",
        "submit_started_at": None,
        "quote_expires_at": timezone.now() + timedelta(minutes=5),
    }
    used, on_page, through_api = (withdrawal_of(connection, **fresh) for _ in range(3))
    page = client_at("alpha.localhost")
    page.force_login(member)
    code = pyotp.TOTP(PORTAL_TOTP_SECRET).now()
    stepped_up = page.post(f"/withdrawals/{used.pk}/step-up/", {"code": code})
    assert stepped_up["Location"] == f"/withdrawals/{used.pk}/verify/"

    # The same code again, for another withdrawal, on the page and through the API.
    page_answer = page.post(f"/withdrawals/{on_page.pk}/step-up/", {"code": code})
    api_answer = api.post(f"/api/v1/withdrawals/{through_api.pk}/factors/", {"mfa_code": code}, format="json")
    assert page_answer.status_code == 200 and api_answer.status_code == 422
    assert api_answer.json()["error"]["message"] == CODE_REFUSED
    assert CODE_REFUSED in html.unescape(page_answer.content.decode())
    assert Withdrawal.objects.get(pk=used.pk).state == "stepped_up"
    assert {w.state for w in Withdrawal.objects.filter(pk__in=[on_page.pk, through_api.pk])} == {"previewed"}
    refusals = AuditEvent.objects.filter(action="withdrawal.step_up_refused")
    assert sorted(int(event.target_id) for event in refusals) == [on_page.pk, through_api.pk]
