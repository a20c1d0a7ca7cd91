"""Payees connected through the real flows at the sandbox mounted in the live server, and the sandbox's chain."""

import time

import requests

from broker_portal import services
from broker_portal.models import Membership
from connectors.exchanges import EXCHANGES
from connectors.models import ExchangeConnection
from tests.connectors.helpers import PASSWORD, PortalBrowser

# KuCoin's default grant reads deposit addresses; Kraken's needs its Deposit permission (funds-add).
PERMISSIONS = {"kraken": [*EXCHANGES["kraken"].default_permissions, "account.fast-api-key:funds-add"]}
# USDT on TRC20, as each exchange names the network.
TRC20 = {"kucoin": "trx", "okx": "USDT-TRC20", "kraken": "Tether (TRC20)"}


def connect_payee(portal, sandbox_accounts, exchange_id, email, *, permissions=None) -> ExchangeConnection:
    user = services.member_create(
        tenant=portal["tenant"], email=email, password=PASSWORD, role=Membership.Role.MEMBER, email_verified=True
    )
    browser = PortalBrowser(portal["url"])
    browser.sign_in(email)
    account = sandbox_accounts[exchange_id]["trader"]
    chosen = permissions if permissions is not None else PERMISSIONS.get(exchange_id)
    callback = browser.consent(
        browser.start_connect(exchange_id, chosen), account["email"], account["password"], scopes=chosen
    )
    assert browser.session.get(callback, allow_redirects=False).status_code == 302
    return ExchangeConnection.objects.get(user=user, exchange=exchange_id)


def credit_deposit(base_url, exchange, address, amount, *, memo="", txid=""):
    """The broker's on-chain send arriving at the exchange (the sandbox's control endpoint)."""
    response = requests.post(
        f"{base_url}/sandbox/control/deposits",
        json={"exchange": exchange, "address": address, "amount": str(amount), "memo": memo, "txid": txid},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    if exchange == "kraken":
        # Kraken bounds its history in whole seconds (``end`` inclusive, connectors/kraken/history.py): a pass
        # lists a deposit once it starts after the deposit's second; a pass within it leaves it to the next one.
        time.sleep(1.01 - time.time() % 1)
    return response.json()
