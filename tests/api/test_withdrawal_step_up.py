"""The API's step-up before the exchange's factors: a wrong portal MFA code is refused and audited."""

import pytest

from broker_portal.models import AuditEvent
from tests.withdrawals.helpers import connection_of, withdrawal_of

pytestmark = pytest.mark.django_db


def test_a_wrong_portal_mfa_code_is_refused_and_audited(api, tenant, member):
    withdrawal = withdrawal_of(connection_of(member, tenant), state="previewed", exchange_withdrawal_id="",
                               submit_started_at=None)
    answer = api.post(f"/api/v1/withdrawals/{withdrawal.pk}/factors/", {"mfa_code": "000000"}, format="json")
    assert answer.status_code == 422
    event = AuditEvent.objects.get(action="withdrawal.step_up_refused", target_id=str(withdrawal.pk))
    assert event.tenant_id == tenant.pk and event.actor_id == member.pk
    assert "000000" not in str(event.details)
