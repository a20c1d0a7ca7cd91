"""Kraken: withdrawal to a saved address by its name (``key``), no 2FA step, the fee out of the amount.

Nothing in Kraken's documents ends a Withdraw request that got no answer, so an unanswered submit stays
"unknown" until WithdrawStatus shows it (``lost_submit_expires_after`` stays None)."""

import re
from decimal import Decimal

from django.utils import timezone

from connectors.base.api import ExchangeAPIError
from connectors.base.withdrawals import (
    ChainInfo,
    CurrencyInfo,
    ExchangeStatus,
    ExchangeWithdrawals,
    Price,
    SavedAddress,
    public_get,
)

ASSET_CODES = {"BTC": "XBT"}  # the portal's code -> Kraken's
PORTAL_CODES = {"XXBT": "BTC", "XBT": "BTC", "XETH": "ETH", "ZUSD": "USD", "ZEUR": "EUR"}
# WithdrawStatus's statuses (krakenfx/api-specs spot-rest/schemas/objects/funding/withdrawals/withdrawal.yaml):
# Initial, Pending, Settled, Success, Failure; only the last two end a withdrawal. A cancellation is no status
# of its own but the additional property ``status-prop: canceled``, which ends it unpaid whatever the status.
FINAL_STATUSES = {"Success": True, "Failure": False}
CANCELED = "canceled"
# Kraken's error strings ("<severity><category>:<message>", spot-rest/schemas/objects/errors/error.yaml; the
# funding ones as its REST API returns them) in the user's words. The category prefix never reaches the user.
ERROR_MESSAGES = {
    "EFunding:Unknown withdraw key": "Kraken knows no saved withdrawal address of that name for this currency. "
    "Choose one of your saved addresses, or add it at Kraken first.",
    "EFunding:Invalid address": "The address differs from the one saved at Kraken under that name.",
    "EFunding:Invalid asset": "Kraken does not withdraw this currency.",
    "EFunding:Too small": "The amount is below Kraken's minimum for this address.",
    "EFunding:Insufficient funds": "Your Kraken balance does not cover this amount with its fee.",
    "EFunding:Max fee exceeded": "Kraken's fee rose above the one the preview showed; review the new fee.",
    "EGeneral:Invalid arguments:amount": "Kraken does not accept this amount.",
    "EGeneral:Permission denied": "The portal's Kraken key may not withdraw: reconnect Kraken and tick Withdraw.",
    "EAPI:Invalid key": "Kraken no longer accepts the portal's key: reconnect Kraken.",
}
ERROR_PREFIX = re.compile(r"\b[EW][A-Z][A-Za-z]*:")


class KrakenWithdrawals(ExchangeWithdrawals):
    fee_deduct_types = ("INTERNAL",)  # Kraken takes its fee out of the amount
    destination_label = "Saved address name (e.g. my-btc)"
    error_messages = ERROR_MESSAGES
    saved_addresses_only = True  # Withdraw's key: "the name of a withdrawal address set up at Kraken"

    def plain_message(self, message):
        # "EFunding:Something new" reads "Something new".
        return ERROR_PREFIX.sub("", message).strip() or message

    def currencies(self, api, connection):
        return [balance.currency for balance in api.balances(connection) if balance.available > 0]

    def currency(self, api, connection, code):
        payload = public_get(api, "/0/public/Assets")
        if payload.get("error"):
            raise ExchangeAPIError(", ".join(payload["error"]), code=payload["error"][0])
        asset = ASSET_CODES.get(code, code)
        info = next(
            (
                value
                for key, value in (payload.get("result") or {}).items()
                if value.get("altname") == asset or key == asset
            ),
            None,
        )
        if info is None:
            raise ExchangeAPIError(f"Kraken does not list {code}.", code="EQuery:Unknown asset")
        # The fee and minimum depend on the saved address; WithdrawInfo tells them at the preview.
        precision = int(info.get("display_decimals", 8))
        return CurrencyInfo(
            code=code, precision=precision, chains=(ChainInfo("", "Saved address", Decimal(0), Decimal(0), precision),)
        )

    def available(self, api, connection, code):
        for asset, amount in api.private(connection, "Balance").items():
            if PORTAL_CODES.get(asset, asset) == code:
                return Decimal(str(amount))
        return Decimal(0)

    def saved_addresses(self, api, connection):
        # spot-rest/openapi_v3.yaml, POST /private/WithdrawAddresses (requests/funding/withdrawals/addresses.yaml:
        # every filter optional; responses/…/addresses.yaml: [{address, asset, method, key, tag, verified}]).
        # Only verified ones are offered ("Withdrawal addresses successfully completing email confirmation").
        rows = api.private(connection, "WithdrawAddresses")
        return [
            SavedAddress(
                currency=PORTAL_CODES.get(str(row.get("asset")), str(row.get("asset"))),
                key=str(row["key"]),
                address=str(row.get("address") or ""),
                network=str(row.get("method") or ""),
            )
            for row in (rows if isinstance(rows, list) else [])
            if isinstance(row, dict) and row.get("key") and row.get("verified", True)
        ]

    def price(self, api, code):
        if code == "USDT":
            return Price(usdt=Decimal(1), at=timezone.now())
        pair = f"{ASSET_CODES.get(code, code)}USDT"
        payload = public_get(api, "/0/public/Ticker", {"pair": pair})
        if payload.get("error") or not payload.get("result"):
            raise ExchangeAPIError(", ".join(payload.get("error") or ["No price."]), code="EQuery:Unknown asset pair")
        data = next(iter(payload["result"].values()))
        return Price(usdt=Decimal(str(data["c"][0])), at=timezone.now())

    def chain_fee(self, api, connection, withdrawal) -> Decimal:
        info = api.private(
            connection,
            "WithdrawInfo",
            {
                "asset": ASSET_CODES.get(withdrawal.currency, withdrawal.currency),
                "key": withdrawal.destination,
                "amount": format(withdrawal.amount.normalize(), "f"),
            },
        )
        return Decimal(str(info["fee"]))

    def submit(self, api, connection, withdrawal, codes):
        # spot-rest/schemas/requests/funding/withdrawals/withdrawal.yaml: asset, key (the name of a withdrawal
        # address set up at Kraken), amount; optional address (only a check of the key's) and max_fee.
        result = api.private(
            connection,
            "Withdraw",
            {
                "asset": ASSET_CODES.get(withdrawal.currency, withdrawal.currency),
                "key": withdrawal.destination,
                "amount": format(withdrawal.amount.normalize(), "f"),
                # Never pay more than the preview showed.
                "max_fee": format(withdrawal.chain_fee.normalize(), "f"),
            },
        )
        return result["refid"]

    def _history(self, api, connection, withdrawal) -> list[dict]:
        return api.private(
            connection, "WithdrawStatus", {"asset": ASSET_CODES.get(withdrawal.currency, withdrawal.currency)}
        )

    def status(self, api, connection, withdrawal):
        for item in self._history(api, connection, withdrawal):
            if item.get("refid") == withdrawal.exchange_withdrawal_id:
                return withdrawal_status(item)
        return ExchangeStatus(raw="", final=False, succeeded=False)

    def sent_candidates(self, api, connection, withdrawal):
        started = (withdrawal.submit_started_at or withdrawal.created_at).timestamp() - 60
        return [
            item["refid"]
            for item in self._history(api, connection, withdrawal)
            if item.get("refid") and is_this_withdrawal(item, withdrawal, since=started)
        ]


def withdrawal_status(item: dict) -> ExchangeStatus:
    """One WithdrawStatus entry's status; a cancellation is recorded as "<status> (canceled)"."""
    status = str(item.get("status") or "")
    if item.get("status-prop") == CANCELED:
        return ExchangeStatus(raw=f"{status} ({CANCELED})".lstrip(), final=True, succeeded=False)
    # withdrawal.yaml's txid: "Method transaction ID", the network's id of the transfer.
    return ExchangeStatus(
        raw=status,
        final=status in FINAL_STATUSES,
        succeeded=FINAL_STATUSES.get(status, False),
        transaction_hash=str(item.get("txid") or ""),
    )


def is_this_withdrawal(item: dict, withdrawal, *, since: float) -> bool:
    """Whether a WithdrawStatus entry can be this withdrawal; it carries no reference of ours.

    What identifies one there: the asset, the saved address's name (``key``, where the answer has it), the
    amount we asked for, and a time after the submit began. The amount is matched as sent, never as the
    preview's received amount: Kraken may take another fee than WithdrawInfo said, and reports the amount
    either as sent or as received next to its fee."""
    asset = item.get("asset")
    amount, fee = Decimal(str(item.get("amount") or "0")), Decimal(str(item.get("fee") or "0"))
    return (
        PORTAL_CODES.get(asset, asset) == withdrawal.currency
        and item.get("key", withdrawal.destination) == withdrawal.destination
        and withdrawal.amount in (amount, amount + fee)
        and float(item.get("time") or 0) >= since
    )


WITHDRAWALS = KrakenWithdrawals()
