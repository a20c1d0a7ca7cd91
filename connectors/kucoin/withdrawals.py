"""KuCoin: withdrawal with the exchange's 2FA (guide section 8), prices and currency info from its REST API."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from connectors.base.api import ExchangeAPIError
from connectors.base.withdrawals import (
    ChainInfo,
    CurrencyInfo,
    ExchangeStatus,
    ExchangeWithdrawals,
    Factors,
    Price,
    SecuritySetupRequired,
    public_get,
)

SECURITY_SETUP_CODE = "400007"
SECURITY_LINK = re.compile(r"https?://\S+")
FINAL_STATUSES = {"SUCCESS": True, "FAILURE": False}


def security_setup_link(message: str, *, client_id: str, redirect_uri: str) -> str | None:
    """The guide's setup link with client_id and the URL-encoded redirect_uri appended, or None."""
    match = SECURITY_LINK.search(message or "")
    if not match:
        return None
    link = match.group(0).rstrip(".,;")
    separator = "&" if "?" in link else "?"
    return f"{link}{separator}client_id={quote(client_id, safe='')}&redirect_uri={quote(redirect_uri, safe='')}"


def ms_to_datetime(value) -> datetime:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return timezone.now()


class KuCoinWithdrawals(ExchangeWithdrawals):
    withdraw_types = ("ADDRESS", "UID", "MAIL", "PHONE")
    has_service_fee = True
    needs_factors = True
    has_memo = True
    rate_limited_types = ("UID", "MAIL", "PHONE")
    # Guide 8.2: 3 times per 10 seconds, 50 times per 24 hours (rolling from the first request).
    rate_limits = ((timedelta(seconds=10), 3), (timedelta(hours=24), 50))
    # Guide section 8: 400009 wrong verification code; 400100 also says when the 2FA transaction is over.
    wrong_code_errors = frozenset({"400009"})
    restart_verification_errors = frozenset({"400100"})
    # KuCoin's error codes (Kucoin/kucoin-api-docs, error codes: 200004 "Balance insufficient!") in the user's
    # words; any other refusal shows KuCoin's own message.
    error_messages = {"200004": "Your KuCoin balance does not cover this amount with its fees."}

    def security_setup_url(self, message, *, client_id, return_url):
        return security_setup_link(message, client_id=client_id, redirect_uri=return_url)

    def lost_submit_expires_after(self):
        # A submit spends the 2FA transaction (transactionId), which does not outlive its codes. The guide
        # gives it no lifetime; the portal takes 10 minutes (the setting), as the sandbox models it. After
        # that a submit that got no answer can no longer execute.
        return timedelta(seconds=settings.WITHDRAWAL_EXCHANGE_TRANSACTION_TTL_SECONDS)

    def currencies(self, api, connection):
        return [balance.currency for balance in api.balances(connection) if balance.available > 0]

    def currency(self, api, connection, code):
        data = api.currency_detail(code)
        precision = int(data.get("precision", 8))
        chains = tuple(
            ChainInfo(
                chain_id=chain["chainId"],
                name=chain.get("chainName") or chain["chainId"],
                withdrawal_fee=Decimal(str(chain.get("withdrawalMinFee") or "0")),
                min_size=Decimal(str(chain.get("withdrawalMinSize") or "0")),
                precision=int(chain.get("withdrawPrecision", precision)),
                enabled=bool(chain.get("isWithdrawEnabled", True)),
            )
            for chain in data.get("chains") or []
        )
        return CurrencyInfo(code=data.get("currency", code), precision=precision, chains=chains)

    def available(self, api, connection, code):
        accounts = api.signed(connection, "GET", f"/api/v1/accounts?currency={quote(code, safe='')}&type=main")
        return sum((Decimal(str(account["available"])) for account in accounts), Decimal(0))

    def price(self, api, code):
        if code == "USDT":
            return Price(usdt=Decimal(1), at=timezone.now())
        payload = public_get(api, "/api/v1/market/orderbook/level1", {"symbol": f"{code}-USDT"})
        if payload.get("code") != "200000" or not (payload.get("data") or {}).get("price"):
            raise ExchangeAPIError(payload.get("msg", f"No {code}-USDT price."), code=str(payload.get("code", "")))
        data = payload["data"]
        return Price(usdt=Decimal(str(data["price"])), at=ms_to_datetime(data.get("time")))

    def request_body(self, withdrawal) -> dict:
        body = {
            "currency": withdrawal.currency,
            # POST /api/v3/withdrawals requires toAddress (KuCoin's universal SDK spec and ccxt, level A); the
            # seed guide's "address" belongs to an older version.
            "toAddress": withdrawal.destination,
            "amount": format(withdrawal.amount.normalize(), "f"),
            "withdrawType": withdrawal.withdraw_type,
            "isInner": False,
            # Always explicit, so the exchange deducts exactly as the preview showed: INTERNAL from the amount,
            # EXTERNAL from the main account (withdrawals/fees.py).
            "feeDeductType": withdrawal.fee_deduct_type,
            # The reference lets the history tell this withdrawal apart after a timeout.
            "remark": " ".join(part for part in (withdrawal.remark, withdrawal.reference) if part),
        }
        if withdrawal.withdraw_type == "ADDRESS" and withdrawal.chain:
            body["chain"] = withdrawal.chain
        if withdrawal.memo:
            body["memo"] = withdrawal.memo
        return body

    def request_factors(self, api, connection, withdrawal):
        try:
            data = api.signed(connection, "POST", "/api/v3/withdrawals", self.request_body(withdrawal))
        except ExchangeAPIError as error:
            if error.code == SECURITY_SETUP_CODE and SECURITY_LINK.search(str(error)):
                raise SecuritySetupRequired(str(error)) from error
            raise
        if "transactionId" not in data:
            raise ExchangeAPIError("KuCoin did not start a verification.", code="")
        return Factors(
            transaction_id=data["transactionId"],
            all_factors=data.get("allFactors") or [],
            sent_factors=data.get("sentFactors") or [],
        )

    def submit(self, api, connection, withdrawal, codes):
        data = api.signed(
            connection,
            "POST",
            "/api/v3/withdrawals",
            {"transactionId": withdrawal.exchange_transaction_id, "verifyCodes": codes},
        )
        if not data or not data.get("withdrawalId"):
            raise ExchangeAPIError("KuCoin did not return a withdrawal id.", code="")
        return data["withdrawalId"]

    def status(self, api, connection, withdrawal):
        data = api.signed(connection, "GET", f"/api/v1/withdrawals/{quote(withdrawal.exchange_withdrawal_id, safe='')}")
        raw = str(data.get("status", ""))
        # walletTxId: the chain's transaction id (KuCoin's API docs, "get withdrawal by id").
        return ExchangeStatus(
            raw=raw,
            final=raw in FINAL_STATUSES,
            succeeded=FINAL_STATUSES.get(raw, False),
            transaction_hash=str(data.get("walletTxId") or ""),
        )

    def sent_candidates(self, api, connection, withdrawal):
        # The reference we put in the remark identifies it.
        since = int((withdrawal.factors_requested_at or withdrawal.created_at).timestamp() * 1000) - 60_000
        found, page = [], 1
        while True:
            data = api.signed(
                connection,
                "GET",
                f"/api/v1/withdrawals?currency={quote(withdrawal.currency, safe='')}"
                f"&startAt={since}&currentPage={page}&pageSize=100",
            )
            found += [
                str(item.get("id") or item.get("withdrawalId"))
                for item in data.get("items") or []
                if withdrawal.reference in str(item.get("remark", ""))
            ]
            if page >= int(data.get("totalPage") or 1):
                return found
            page += 1


WITHDRAWALS = KuCoinWithdrawals()
