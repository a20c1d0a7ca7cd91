"""The status poll a worker runs for a sent withdrawal."""

import pytest

from withdrawals.models import Withdrawal
from withdrawals.tasks import withdrawal_poll

pytestmark = pytest.mark.django_db


def test_a_poll_for_a_withdrawal_that_is_gone_ends_quietly():
    # A message can outlive its withdrawal (the tenant or user deleted while it waited in the queue).
    missing = (Withdrawal.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    assert withdrawal_poll.apply(args=[missing]).successful()
