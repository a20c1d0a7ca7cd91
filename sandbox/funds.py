"""Balances and withdrawals: KuCoin's 2FA withdrawal with fees and rate limits, Kraken's by address name."""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation

import pyotp
from django.db import transaction

from . import clock
from .exchanges import Chain, Currency, kraken_currency
from .exchanges import currency as find_currency
from .models import ApiKey, Balance, HistoryRecord, InboxMessage, SandboxUser, WithdrawalRequest, WithdrawalTransaction

OAUTH_FEE_RATE = Decimal("0.10")
OAUTH_FEE_MIN_USDT = Decimal("1")
OAUTH_FEE_MAX_USDT = Decimal("30")
TRANSACTION_TTL = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
SETTLEMENT_DELAY = timedelta(seconds=30)  # a new withdrawal is PROCESSING this long, then SUCCESS
# UID, MAIL and PHONE withdrawals: 3 per 10 seconds and 50 per rolling 24 hours, per user.
RATE_LIMITED_TYPES = {"UID", "MAIL", "PHONE"}
RATE_LIMITS = [(timedelta(seconds=10), 3), (timedelta(hours=24), 50)]
WITHDRAW_TYPES = {"ADDRESS", "UID", "MAIL", "PHONE"}
FACTORS_NEEDED = [["GAV", "EMV"]]  # authenticator app and e-mail code
FACTORS_SENT = [["EMV"]]


class WithdrawalRefused(Exception):
    def __init__(self, code: str, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.retry_after = code, message, status, retry_after


def balance_of(user: SandboxUser, code: str) -> Decimal:
    row = Balance.objects.filter(user=user, currency=code).first()
    return row.available if row else Decimal("0")


def round_up(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_UP)


def round_down(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def oauth_service_fee(currency: Currency, amount: Decimal) -> Decimal:
    """KuCoin's OAuth fee (broker guide, section 9): 10% of the amount, "Minimum fee: equivalent of 1 USDT",
    "Maximum fee: equivalent of 30 USDT", in the withdrawn currency at the sandbox price. The guide gives no
    rounding: 10% and the minimum round up to the currency's precision, the maximum rounds down, so the fee is
    never worth more than 30 USDT (where one step is worth more than 29 USDT, the maximum wins)."""
    places, price = currency.precision, currency.price_usdt
    lowest, highest = round_up(OAUTH_FEE_MIN_USDT / price, places), round_down(OAUTH_FEE_MAX_USDT / price, places)
    return min(max(round_up(amount * OAUTH_FEE_RATE, places), lowest), highest)


@dataclass
class WithdrawalPlan:
    currency: Currency
    chain: Chain | None
    amount: Decimal
    chain_fee: Decimal
    service_fee: Decimal
    fee_deduct_type: str
    address: str
    withdraw_type: str
    memo: str
    remark: str
    is_inner: bool

    @property
    def total_fee(self) -> Decimal:
        return self.chain_fee + self.service_fee

    # feeDeductType (KuCoin's withdrawal v3, universal SDK spec and ccxt; level A): INTERNAL = the fee is taken
    # from the withdrawal amount (the recipient gets less), EXTERNAL = the fee is taken from the main account
    # (the recipient gets the amount).
    @property
    def debit(self) -> Decimal:
        return self.amount + self.total_fee if self.fee_deduct_type == "EXTERNAL" else self.amount

    @property
    def amount_sent(self) -> Decimal:
        return self.amount if self.fee_deduct_type == "EXTERNAL" else self.amount - self.total_fee


def _parse_amount(raw) -> Decimal:
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise WithdrawalRefused("400100", "amount must be a number.")
    if not amount.is_finite() or amount <= 0:
        raise WithdrawalRefused("400100", "amount must be a positive number.")
    return amount


def kucoin_plan(user: SandboxUser, api_key: ApiKey | None, params: dict) -> WithdrawalPlan:
    """Check a KuCoin withdrawal request (POST /api/v3/withdrawals: currency, toAddress, amount, withdrawType
    required) and work out its fees (no side effects)."""
    currency = find_currency(params.get("currency", ""))
    if currency is None:
        raise WithdrawalRefused("400100", "currency not supported.")
    withdraw_type = params.get("withdrawType", "")
    if withdraw_type not in WITHDRAW_TYPES:
        raise WithdrawalRefused("400100", "withdrawType must be ADDRESS, UID, MAIL or PHONE.")
    # POST /api/v3/withdrawals requires toAddress (universal SDK spec, ccxt; level A); the seed guide's "address"
    # names an older version's field and is not read.
    address = params.get("toAddress") or ""
    if not isinstance(address, str) or not address:
        raise WithdrawalRefused("400100", "toAddress is required.")
    amount = _parse_amount(params.get("amount"))
    if amount != amount.quantize(Decimal(1).scaleb(-currency.precision)):
        raise WithdrawalRefused(
            "400100", f"amount must be a multiple of the precision ({currency.precision} decimals)."
        )
    chain = currency.chain(params.get("chain"))
    if chain is None:
        raise WithdrawalRefused("400100", "chain not supported for this currency.")
    on_chain = withdraw_type == "ADDRESS" and not params.get("isInner")
    if on_chain and amount < chain.withdrawal_min_size:
        raise WithdrawalRefused("400100", f"amount is below the minimum withdrawal size {chain.withdrawal_min_size}.")
    if withdraw_type == "ADDRESS" and (user.withdrawal_whitelist or (api_key and api_key.addressbook_only)):
        saved = {(entry["currency"], entry["address"]) for entry in user.address_book}
        if (currency.code, address) not in saved:
            raise WithdrawalRefused("260325", "The withdrawal address is not in the address book (whitelist is on).")
    fee_deduct_type = params.get("feeDeductType") or ""
    if fee_deduct_type not in ("", "INTERNAL", "EXTERNAL"):
        raise WithdrawalRefused("400100", "feeDeductType must be INTERNAL or EXTERNAL.")
    plan = WithdrawalPlan(
        currency=currency,
        chain=chain if withdraw_type == "ADDRESS" else None,
        amount=amount,
        chain_fee=chain.withdrawal_fee if on_chain else Decimal("0"),
        service_fee=oauth_service_fee(currency, amount),
        fee_deduct_type=fee_deduct_type or "EXTERNAL",
        address=address,
        withdraw_type=withdraw_type,
        memo=params.get("memo") or "",
        remark=params.get("remark") or "",
        is_inner=bool(params.get("isInner")),
    )
    if not fee_deduct_type and balance_of(user, currency.code) < plan.debit:
        # Not specified (guide 8.2): the fees come from the main account when it suffices, else from the amount.
        plan.fee_deduct_type = "INTERNAL"
    if plan.amount_sent <= 0:
        raise WithdrawalRefused("400100", "amount does not cover the fees.")
    if balance_of(user, currency.code) < plan.debit:
        raise WithdrawalRefused("200004", "Balance insufficient!")
    return plan


def _check_rate_limit(user: SandboxUser, withdraw_type: str) -> None:
    if withdraw_type not in RATE_LIMITED_TYPES:
        return
    now = clock.now()
    requests = WithdrawalRequest.objects.filter(user=user, withdraw_type__in=RATE_LIMITED_TYPES)
    for window, limit in RATE_LIMITS:
        in_window = list(requests.filter(requested_at__gt=now - window).order_by("requested_at")[:limit])
        if len(in_window) >= limit:
            retry_after = int((in_window[0].requested_at + window - now).total_seconds()) + 1
            raise WithdrawalRefused("429000", "Too many withdrawal requests.", status=429, retry_after=retry_after)
    WithdrawalRequest.objects.create(user=user, withdraw_type=withdraw_type, requested_at=now)


def security_setup_message(sandbox_base_url: str) -> str:
    return (
        "You need to bind more factors to continue this operation. Please visit the following link: "
        f"{sandbox_base_url}/account/security/g2fa"
    )


def kucoin_withdraw(user: SandboxUser, api_key: ApiKey | None, params: dict, *, sandbox_base_url: str) -> dict:
    """Step 1 (no transactionId): check, count, e-mail a code and answer the factors.
    Step 2 (transactionId + verifyCodes): check the codes and execute."""
    if params.get("transactionId"):
        return _kucoin_complete(user, params)
    if not user.totp_secret:
        raise WithdrawalRefused("400007", security_setup_message(sandbox_base_url))
    plan = kucoin_plan(user, api_key, params)
    _check_rate_limit(user, plan.withdraw_type)
    now = clock.now()
    email_code = f"{secrets.randbelow(10**6):06d}"
    pending = WithdrawalTransaction.objects.create(
        transaction_id=secrets.token_hex(16),
        user=user,
        api_key=api_key,
        params={key: params[key] for key in params if key not in ("transactionId", "verifyCodes")},
        email_code=email_code,
        created_at=now,
        expires_at=now + TRANSACTION_TTL,
    )
    InboxMessage.objects.create(
        exchange=user.exchange,
        to_email=user.email,
        subject="Withdrawal verification code",
        body=(
            f"Your verification code is {email_code}. It confirms the withdrawal of {plan.amount} "
            f"{plan.currency.code} to {plan.address} and is valid for 10 minutes."
        ),
        code=email_code,
        sent_at=now,
    )
    return {"transactionId": pending.transaction_id, "allFactors": FACTORS_NEEDED, "sentFactors": FACTORS_SENT}


def totp_matches(secret: str, code: str) -> bool:
    # The user's authenticator runs on the real clock, not the sandbox's shifted one.
    return bool(secret) and pyotp.TOTP(secret).verify(str(code or ""), valid_window=1)


def _kucoin_complete(user: SandboxUser, params: dict) -> dict:
    codes = params.get("verifyCodes") or {}
    if not isinstance(codes, dict):
        raise WithdrawalRefused("400100", 'verifyCodes must be an object like {"GAV": "123456", "EMV": "654321"}.')
    with transaction.atomic():
        pending = (
            WithdrawalTransaction.objects.select_for_update()
            .filter(transaction_id=params["transactionId"], user=user)
            .first()
        )
        if pending is None or pending.completed_at or pending.expires_at <= clock.now():
            raise WithdrawalRefused("400100", "transactionId is unknown, used or expired.")
        if pending.failed_attempts >= MAX_CODE_ATTEMPTS:
            raise WithdrawalRefused("400100", "Too many wrong codes; start the withdrawal again.")
        for key, value in params.items():
            if key in pending.params and str(pending.params[key]) != str(value):
                raise WithdrawalRefused("400100", f"{key} differs from the first request.")
        email_ok = secrets.compare_digest(str(codes.get("EMV", "")), pending.email_code)
        if not (email_ok and totp_matches(user.totp_secret, codes.get("GAV"))):
            pending.failed_attempts += 1
            pending.save(update_fields=["failed_attempts"])
            raise WithdrawalRefused("400009", "Verification code incorrect.")
        plan = kucoin_plan(user, pending.api_key, pending.params)
        record = execute(user, plan, details={"withdrawType": plan.withdraw_type, "remark": plan.remark})
        pending.completed_at = clock.now()
        pending.withdrawal = record
        pending.save(update_fields=["completed_at", "withdrawal"])
    return {"withdrawalId": record.txid}


def execute(user: SandboxUser, plan: WithdrawalPlan, *, details: dict) -> HistoryRecord:
    """Debit the balance and write the withdrawal and its ledger entries (withdrawal, chain fee, service fee)."""
    now = clock.now()
    with transaction.atomic():
        balance = Balance.objects.select_for_update().get(user=user, currency=plan.currency.code)
        if balance.available < plan.debit:
            raise WithdrawalRefused("200004", "Balance insufficient!")
        txid = f"W{secrets.token_hex(12)}"
        record = HistoryRecord.objects.create(
            user=user,
            kind=HistoryRecord.Kind.WITHDRAWAL,
            txid=txid,
            time=now,
            currency=plan.currency.code,
            amount=plan.amount_sent,
            fee=plan.total_fee,
            fee_currency=plan.currency.code,
            address=plan.address,
            chain=plan.chain.chain_id if plan.chain else "",
            status="PROCESSING",
            completes_at=now + SETTLEMENT_DELAY,
            details={
                **details,
                "feeDeductType": plan.fee_deduct_type,
                "requestedAmount": str(plan.amount),
                "chainFee": str(plan.chain_fee),
                "serviceFee": str(plan.service_fee),
                "memo": plan.memo,
                "isInner": plan.is_inner,
            },
        )
        entries = [("withdrawal", plan.debit - plan.total_fee, {}), ("fee", plan.chain_fee, {"feeType": "chain"})]
        entries.append(("fee", plan.service_fee, {"feeType": "oauth_service"}))
        running = balance.available
        for entry_type, amount, extra in entries:
            if not amount:
                continue
            running -= amount
            HistoryRecord.objects.create(
                user=user,
                kind=HistoryRecord.Kind.LEDGER,
                txid=f"L{secrets.token_hex(12)}",
                time=now,
                currency=plan.currency.code,
                amount=-amount,
                entry_type=entry_type,
                balance_after=running,
                status="SUCCESS",
                details={"withdrawalId": txid, **extra},
            )
        balance.available = running
        balance.save(update_fields=["available"])
    return record


def withdrawal_status(record: HistoryRecord) -> str:
    if record.status == "PROCESSING" and record.completes_at and record.completes_at <= clock.now():
        return "SUCCESS"
    return record.status


# --- Kraken ---------------------------------------------------------------------------------------

# WithdrawStatus/DepositStatus entries (krakenfx/api-specs spot-rest/schemas/objects/funding/withdrawals/
# withdrawal.yaml): status is one of Initial, Pending, Settled, Success, Failure; a cancellation is the extra
# property "status-prop": "canceled", not a status. The sandbox walks a new withdrawal through Initial, Pending
# and Settled in equal parts of the settlement delay, then Success; its timing is the sandbox's (level C).
KRAKEN_PROGRESS = ("Initial", "Pending", "Settled")


def kraken_status(record: HistoryRecord) -> dict:
    """The status fields of one funding entry: {"status"} and, for a cancelled one, {"status-prop"}."""
    if record.status == "CANCELED":
        # Which status a cancelled withdrawal keeps is not in the spec; the property is what says it (level C).
        return {"status": "Failure", "status-prop": "canceled"}
    if record.status == "FAILURE":
        return {"status": "Failure"}
    if withdrawal_status(record) == "SUCCESS" or not record.completes_at:
        return {"status": "Success"}
    left = (record.completes_at - clock.now()) / SETTLEMENT_DELAY
    step = min(max(int((1 - left) * len(KRAKEN_PROGRESS)), 0), len(KRAKEN_PROGRESS) - 1)
    return {"status": KRAKEN_PROGRESS[step]}


def kraken_plan(user: SandboxUser, params: dict) -> WithdrawalPlan:
    currency = kraken_currency(params.get("asset", ""))
    if currency is None:
        raise WithdrawalRefused("EFunding:Invalid asset", "")
    saved = next(
        (
            entry
            for entry in user.address_book
            if entry["name"] == params.get("key") and entry["currency"] == currency.code
        ),
        None,
    )
    if saved is None:
        raise WithdrawalRefused("EFunding:Unknown withdraw key", "")
    if params.get("address") and params["address"] != saved["address"]:
        raise WithdrawalRefused("EFunding:Invalid address", "")
    try:
        amount = _parse_amount(params.get("amount"))
    except WithdrawalRefused:
        raise WithdrawalRefused("EGeneral:Invalid arguments:amount", "")
    chain = currency.chain(saved["chain"])
    if amount < chain.withdrawal_min_size:
        raise WithdrawalRefused("EFunding:Too small", "")
    if params.get("max_fee") and Decimal(params["max_fee"]) < chain.withdrawal_fee:
        raise WithdrawalRefused("EFunding:Max fee exceeded", "")
    # Kraken takes the fee out of the amount: the address receives amount - fee.
    plan = WithdrawalPlan(
        currency,
        chain,
        amount,
        chain.withdrawal_fee,
        Decimal("0"),
        "INTERNAL",
        saved["address"],
        "ADDRESS",
        saved.get("memo", ""),
        "",
        False,
    )
    if balance_of(user, currency.code) < plan.debit:
        raise WithdrawalRefused("EFunding:Insufficient funds", "")
    return plan
