"""Withdrawal code requests and submits answer 429 past the per-user limit."""

import pytest

from tests.connectors.helpers import PortalBrowser, csrf_token
from tests.withdrawals.helpers import ready_to_submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_withdrawal_submits_are_rate_limited_per_user(portal, kucoin, settings):  # noqa: F811
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "withdrawal_submit": {"user": "1/60"}}
    withdrawal = ready_to_submit(portal, kucoin)
    browser = PortalBrowser(portal["url"])
    browser.sign_in(portal["user"].email)
    url = f"{portal['url']}/withdrawals/{withdrawal.pk}/verify/"
    page = browser.session.get(url)
    form = {"csrfmiddlewaretoken": csrf_token(page.text), "action": "submit", "GAV": "000000", "EMV": "000000"}
    first = browser.session.post(url, data=form, allow_redirects=False)
    second = browser.session.post(url, data=form, allow_redirects=False)
    assert first.status_code == 302
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 0
