"""Withdrawals at the live sandbox: KuCoin connected (withdrawal granted), its factors' codes, a withdrawal made
ready to submit."""

from datetime import timedelta

import pyotp
import requests
from django.utils import timezone

from connectors.models import ExchangeConnection
from tests.connectors.helpers import PortalBrowser
from withdrawals import services

KUCOIN_GROUPS = ["API_COMMON", "API_WITHDRAW_OAUTH"]


def connect_kucoin(portal, sandbox_accounts, who="trader", groups=KUCOIN_GROUPS, user=None):
    browser = PortalBrowser(portal["url"])
    browser.sign_in((user or portal["user"]).email)
    authorize_url = browser.start_connect("kucoin", groups)
    account = sandbox_accounts["kucoin"][who]
    callback = browser.consent(authorize_url, account["email"], account["password"], scopes=groups)
    assert browser.session.get(callback, allow_redirects=False).status_code == 302
    return ExchangeConnection.objects.get(user=user or portal["user"], exchange="kucoin")


def inbox_code(base_url: str, email: str) -> str:
    messages = requests.get(f"{base_url}/sandbox/inbox/", params={"format": "json", "email": email}, timeout=10).json()
    return messages[0]["code"]


def codes_for(portal, sandbox_accounts, who="trader") -> dict:
    account = sandbox_accounts["kucoin"][who]
    return {"GAV": pyotp.TOTP(account["totp_secret"]).now(), "EMV": inbox_code(portal["url"], account["email"])}


def details(**overrides) -> services.Details:
    from decimal import Decimal

    values = {"currency": "BTC", "chain": "btc", "withdraw_type": "ADDRESS", "destination": "bc1qportaltest0000",
              "memo": "", "remark": "", "amount": Decimal("0.01"), "fee_deduct_type": "EXTERNAL"}
    values.update(overrides)
    return services.Details(**values)


def ready_to_submit(portal, connection, **overrides):
    """A withdrawal through details, preview, step-up and the exchange's factors."""
    import uuid

    withdrawal = services.withdrawal_save_details(tenant=portal["tenant"], user=portal["user"], connection=connection,
                                                  idempotency_key=uuid.uuid4(), details=details(**overrides))
    withdrawal = services.withdrawal_preview(withdrawal=withdrawal)
    withdrawal = services.withdrawal_step_up(withdrawal=withdrawal, authenticated_at=timezone.now())
    return services.withdrawal_request_factors(withdrawal=withdrawal)


def sandbox_btc(email: str):
    from sandbox.models import Balance

    return Balance.objects.get(user__email=email, user__exchange="kucoin", currency="BTC").available


def later(seconds: int):
    return timezone.now() + timedelta(seconds=seconds)
