"""Deposit addresses: one account's addresses per currency and chain, made as each exchange makes them."""

import hashlib
import secrets
from decimal import Decimal

from django.db import transaction

from . import clock
from .exchanges import Chain, Currency
from .models import Balance, DepositAddress, HistoryRecord, SandboxUser

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# How many addresses an account may hold per currency and chain where new ones can be made (Kraken's "new"); the
# number is the sandbox's choice.
MAX_ADDRESSES = 5


def _digits(seed: str, alphabet: str, length: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    out = []
    for _ in range(length):
        number, remainder = divmod(number, len(alphabet))
        out.append(alphabet[remainder])
    return "".join(out)


def address_text(exchange: str, chain: Chain, seed: str) -> str:
    """An address shaped like the chain's (never a real one: the hex and base58 come from a hash)."""
    if chain.chain_id == "btc":
        return "bc1q" + _digits(seed, "023456789acdefghjklmnpqrstuvwxyz", 38)
    if chain.chain_id in ("eth", "arbitrum"):
        return "0x" + hashlib.sha256(seed.encode()).hexdigest()[:40]
    if chain.chain_id == "trx":
        return "T" + _digits(seed, BASE58, 33)
    if chain.chain_id == "ton":
        # A memo chain: the exchange's one hot-wallet address; the memo tells its accounts apart.
        return "UQ" + _digits(f"{exchange}:ton-hot-wallet", BASE58 + "-_", 46)
    return _digits(seed, BASE58, 44)


def memo_text(user: SandboxUser, sequence: int) -> str:
    return str(int.from_bytes(hashlib.sha256(f"{user.exchange}:{user.uid}:{sequence}".encode()).digest()[:4], "big"))


def addresses(user: SandboxUser, found: Currency, chain: Chain):
    """Newest first."""
    return DepositAddress.objects.filter(user=user, currency=found.code, chain=chain.chain_id).order_by("-pk")


def address_create(
    user: SandboxUser, found: Currency, chain: Chain, *, account_type: str = "", pending: bool = False
) -> DepositAddress:
    """A new address for the account; ``pending``: not generated yet (Peatio's address comes from a queue)."""
    sequence = DepositAddress.objects.filter(user=user, currency=found.code, chain=chain.chain_id).count()
    seed = f"{user.exchange}:{user.uid}:{found.code}:{chain.chain_id}:{sequence}"
    return DepositAddress.objects.create(
        user=user,
        currency=found.code,
        chain=chain.chain_id,
        account_type=account_type,
        created_at=clock.now(),
        address="" if pending else address_text(user.exchange, chain, seed),
        memo=memo_text(user, sequence) if chain.memo_required and not pending else "",
    )


def address_generated(row: DepositAddress, chain: Chain) -> DepositAddress:
    """The pending address, now generated."""
    sequence = DepositAddress.objects.filter(
        user=row.user, currency=row.currency, chain=row.chain, pk__lt=row.pk
    ).count()
    row.address = address_text(
        row.user.exchange, chain, f"{row.user.exchange}:{row.user.uid}:{row.currency}:{row.chain}:{sequence}"
    )
    row.memo = memo_text(row.user, sequence) if chain.memo_required else ""
    row.save(update_fields=["address", "memo"])
    return row


def address_or_create(user: SandboxUser, found: Currency, chain: Chain) -> DepositAddress:
    """The newest address, made on first asking (OKX shows every account an address for each chain)."""
    return addresses(user, found, chain).first() or address_create(user, found, chain)


class DepositRefused(Exception):
    """A deposit the chain could not have delivered: to no address of this exchange, or of no amount."""


def deposit_credit(*, exchange: str, address: str, amount: Decimal, memo: str = "", txid: str = "") -> HistoryRecord:
    """What a broker's on-chain send does once it confirms: the account owning ``address`` (and ``memo``, on a memo
    chain) is credited, and the deposit is listed by the exchange's deposit history with the transaction's id,
    completed (KuCoin's Get Deposit List status SUCCESS, OKX's deposit-history state 2, Kraken's DepositStatus
    Success, Peatio's accepted: each exchange's view formats the one row its own way)."""
    if not amount.is_finite() or amount <= 0:
        raise DepositRefused("amount must be above zero")
    row = (
        DepositAddress.objects.select_related("user")
        .filter(user__exchange=exchange, address=address)
        .exclude(address="")
        .order_by("-pk")
    )
    row = next((candidate for candidate in row if not candidate.memo or candidate.memo == memo), None)
    if row is None:
        raise DepositRefused("no account of this exchange has that address (and memo)")
    now = clock.now()
    txid = txid or secrets.token_hex(32)
    with transaction.atomic():
        balance, _ = Balance.objects.select_for_update().get_or_create(user=row.user, currency=row.currency)
        balance.available += amount
        balance.save(update_fields=["available"])
        record = HistoryRecord.objects.create(
            user=row.user,
            kind=HistoryRecord.Kind.DEPOSIT,
            txid=txid,
            time=now,
            currency=row.currency,
            amount=amount,
            fee_currency=row.currency,
            address=row.address,
            chain=row.chain,
            status="SUCCESS",
            details={"memo": row.memo} if row.memo else {},
        )
        HistoryRecord.objects.create(
            user=row.user,
            kind=HistoryRecord.Kind.LEDGER,
            txid=f"L{secrets.token_hex(12)}",
            time=now,
            currency=row.currency,
            amount=amount,
            entry_type="deposit",
            balance_after=balance.available,
            status="SUCCESS",
            details={"depositTxId": txid},
        )
    return record
