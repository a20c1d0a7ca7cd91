"""Withdrawals at the live sandbox: KuCoin connected (withdrawal granted), its factors' codes, a withdrawal made
ready to submit."""

from datetime import timedelta
from decimal import Decimal

import pyotp
import requests
from django.utils import timezone

from connectors.models import ExchangeConnection
from tests.connectors.helpers import PortalBrowser
from withdrawals.models import Withdrawal
from withdrawals.services.details import Details, withdrawal_save_details
from withdrawals.services.factors import withdrawal_request_factors
from withdrawals.services.quote import withdrawal_preview
from withdrawals.services.step_up import withdrawal_step_up
from withdrawals.services.submit import withdrawal_submit

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


def details(**overrides) -> Details:
    from decimal import Decimal

    values = {
        "currency": "BTC",
        "chain": "btc",
        "withdraw_type": "ADDRESS",
        "destination": "bc1qportaltest0000",
        "memo": "",
        "remark": "",
        "amount": Decimal("0.01"),
        "fee_deduct_type": "EXTERNAL",
    }
    values.update(overrides)
    return Details(**values)


def ready_to_submit(portal, connection, **overrides):
    """A withdrawal through details, preview, step-up and the exchange's factors."""
    import uuid

    withdrawal = withdrawal_save_details(
        tenant=portal["tenant"],
        user=portal["user"],
        connection=connection,
        idempotency_key=uuid.uuid4(),
        details=details(**overrides),
    )
    withdrawal = withdrawal_preview(withdrawal=withdrawal)
    withdrawal = withdrawal_step_up(withdrawal=withdrawal, authenticated_at=timezone.now())
    return withdrawal_request_factors(withdrawal=withdrawal)


def sandbox_btc(email: str):
    from sandbox.models import Balance

    return Balance.objects.get(user__email=email, user__exchange="kucoin", currency="BTC").available


def later(seconds: int):
    return timezone.now() + timedelta(seconds=seconds)


def connection_of(user, tenant, exchange="kucoin", permissions=("API_COMMON", "API_WITHDRAW_OAUTH")):
    return ExchangeConnection.objects.create(
        tenant=tenant, user=user, exchange=exchange, permissions=list(permissions), api_key="key-0123456789abcdef"
    )


def withdrawal_of(connection, **fields):
    values = {
        "tenant": connection.tenant,
        "user": connection.user,
        "connection": connection,
        "exchange": "kucoin",
        "currency": "USDT",
        "destination": "123456",
        "amount": Decimal("100"),
        "withdraw_type": "UID",
        "state": "processing",
        "total_debit": Decimal("110"),
        "amount_received": Decimal("100"),
        "service_fee": Decimal("10"),
        "chain_fee": Decimal("0"),
        "price_usdt": Decimal("1"),
        "exchange_withdrawal_id": f"W{Withdrawal.objects.count()}",
        "submit_started_at": timezone.now(),
    }
    values.update(fields)
    return Withdrawal.objects.create(**values)


def ready_kucoin_withdrawal(tenant, member):
    now = timezone.now()
    return withdrawal_of(
        connection_of(member, tenant),
        state="factors_requested",
        exchange_withdrawal_id="",
        submit_started_at=None,
        stepped_up_at=now,
        quote_expires_at=now + timedelta(minutes=5),
        factors_requested_at=now,
        factors_all=[["GAV"]],
        factors_sent=[],
        exchange_transaction_id="tx-1",
    )


def submit(withdrawal):
    return withdrawal_submit(
        withdrawal_id=withdrawal.pk, tenant=withdrawal.tenant, user=withdrawal.user, codes={"GAV": "123456"}
    )
