"""Deterministic sandbox accounts and histories (same seed, same data), fast enough for millions of rows."""

import base64
import hashlib
import json
import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from . import clock
from .exchanges import CURRENCIES, PROFILES, STARTING_BALANCES
from .models import Balance, HistoryRecord, SandboxUser

# Every exchange gets the same three people; the e-mail domain names the exchange.
ACCOUNT_TEMPLATES = [
    {"local": "trader", "password": "Sandbox-Trader-1", "totp": True, "whitelist": False},
    {"local": "no2fa", "password": "Sandbox-No2fa-1", "totp": False, "whitelist": False},
    {"local": "whitelist", "password": "Sandbox-Whitelist-1", "totp": True, "whitelist": True},
]
# Synthetic history spans the twelve weeks before seeding: long enough that every exchange's windows matter (KuCoin's
# day of ledgers and week of fills, OKX's 7 days of bills before the archive), short enough that the archives with
# the shortest memory (OKX: 3 months) still hold all of it.
HISTORY_SPAN = timedelta(days=84)
TRADE_PAIRS = [("BTC", "USDT"), ("ETH", "USDT"), ("SOL", "USDT"), ("ETH", "BTC")]
COPY_COLUMNS = [
    "user_id",
    "kind",
    "synthetic",
    "txid",
    "time",
    "currency",
    "amount",
    "fee",
    "fee_currency",
    "price",
    "pair",
    "side",
    "entry_type",
    "balance_after",
    "address",
    "chain",
    "status",
    "details",
]


def _digest(*parts) -> bytes:
    return hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()


def totp_secret_for(seed: int, exchange: str, email: str) -> str:
    return base64.b32encode(_digest("totp", seed, exchange, email)[:20]).decode()


def sandbox_address(currency: str, chain: str, label: str) -> str:
    return f"sbx-{chain}-{hashlib.sha1(f'{currency}{label}'.encode()).hexdigest()[:30]}"


def default_address_book(email: str) -> list[dict]:
    """One saved address per currency (its first chain); Kraken withdraws to these by name."""
    book = []
    for code, currency in CURRENCIES.items():
        chain = currency.chains[0]
        book.append(
            {
                "name": f"my-{code.lower()}",
                "currency": code,
                "chain": chain.chain_id,
                "address": sandbox_address(code, chain.chain_id, email),
                "memo": "",
            }
        )
    return book


def seed_accounts(*, history_rows: int = 200, seed: int = 1) -> dict:
    """Create (or bring back to their seeded identity) the sandbox users of every exchange."""
    description: dict[str, list[dict]] = {}
    for exchange in PROFILES:
        description[exchange] = []
        for index, template in enumerate(ACCOUNT_TEMPLATES):
            email = f"{template['local']}@{exchange}.sandbox"
            totp_secret = totp_secret_for(seed, exchange, email) if template["totp"] else ""
            user = _upsert_user(
                exchange,
                email,
                template,
                totp_secret,
                uid=f"{seed % 100:02d}{index + 1:02d}{sum(map(ord, exchange)):04d}",
            )
            _ensure_history(user, history_rows, seed)
            description[exchange].append(
                {
                    "email": email,
                    "password": template["password"],
                    "totp_secret": totp_secret or None,
                    "uid": user.uid,
                    "withdrawal_whitelist": user.withdrawal_whitelist,
                    "address_book": user.address_book,
                    "balances": {code: str(amount) for code, amount in STARTING_BALANCES.items()},
                    "trading_balances": {
                        code: str(_trading_start(exchange, amount)) for code, amount in STARTING_BALANCES.items()
                    },
                }
            )
    return description


def _upsert_user(exchange: str, email: str, template: dict, totp_secret: str, uid: str) -> SandboxUser:
    user = SandboxUser.objects.filter(exchange=exchange, email=email).first()
    if user is None:
        user = SandboxUser(exchange=exchange, email=email, address_book=default_address_book(email))
    user.password = make_password(template["password"])
    user.totp_secret = totp_secret
    user.uid = uid
    user.withdrawal_whitelist = template["whitelist"]
    user.save()
    for code, amount in STARTING_BALANCES.items():
        # Balances keep what the demo did with them; only missing ones are created.
        Balance.objects.get_or_create(
            user=user, currency=code, defaults={"available": amount, "trading": _trading_start(exchange, amount)}
        )
    return user


def _trading_start(exchange: str, amount):
    """KuCoin's users have moved as much again to the high-frequency trading account their HF orders trade from
    (funds go from the main account to trade_hf by inner transfer before trading: Kucoin/kucoin-api-docs-hf, "List
    high-frequency trading accounts" and "Internal Funds Transfers"; level A)."""
    return amount if exchange == "kucoin" else 0


def _ensure_history(user: SandboxUser, rows_per_kind: int, seed: int) -> None:
    synthetic = HistoryRecord.objects.filter(user=user, synthetic=True)
    if synthetic.count() == rows_per_kind * len(HistoryRecord.Kind.values):
        return
    with transaction.atomic():
        synthetic.delete()
        # Read before COPY starts: the clock offset is a query, and the connection is busy with COPY meanwhile.
        end = clock.now().replace(microsecond=0)
        rows = (
            row for kind in HistoryRecord.Kind.values for row in _history_rows(user, kind, rows_per_kind, seed, end)
        )
        _bulk_insert(rows)


def _amount(rng: random.Random, low: float, high: float, places: int = 8) -> Decimal:
    scale = 10**places
    return Decimal(rng.randint(int(low * scale), int(high * scale))).scaleb(-places)


def _history_rows(user: SandboxUser, kind: str, count: int, seed: int, end):
    """Rows in the COPY_COLUMNS order, oldest first, evenly spread over the HISTORY_SPAN before ``end`` (whole seconds:
    Kraken and Peatio print seconds)."""
    rng = random.Random(f"{seed}:{user.exchange}:{user.email}:{kind}")
    step = HISTORY_SPAN / max(count, 1)
    history_start = end - HISTORY_SPAN
    codes = list(CURRENCIES)
    running = {code: Decimal("0") for code in codes}
    for index in range(count):
        when = (history_start + step * index).replace(microsecond=0)
        txid = f"{kind[0].upper()}{_digest(seed, user.email, kind, index).hex()[:20]}"
        if kind == HistoryRecord.Kind.TRADE:
            base, quote = TRADE_PAIRS[rng.randrange(len(TRADE_PAIRS))]
            price = (CURRENCIES[base].price_usdt / CURRENCIES[quote].price_usdt) * _amount(rng, 0.8, 1.2, 4)
            price = price.quantize(Decimal("0.00000001"))
            volume = _amount(rng, 0.001, 2)
            fee = (price * volume * Decimal("0.001")).quantize(Decimal("0.00000001"))
            # KuCoin: every other fill was made through the high-frequency (Pro) account, listed by /api/v1/hf/fills.
            details = '{"hf": true}' if index % 2 else "{}"
            yield [
                user.id,
                kind,
                True,
                txid,
                when,
                base,
                volume,
                fee,
                quote,
                price,
                f"{base}-{quote}",
                rng.choice(["buy", "sell"]),
                "",
                None,
                "",
                "",
                "SUCCESS",
                details,
            ]
            continue
        code = codes[rng.randrange(len(codes))]
        chain = CURRENCIES[code].chains[0]
        if kind == HistoryRecord.Kind.LEDGER:
            entry_type = rng.choice(["trade", "deposit", "withdrawal", "fee"])
            amount = _amount(rng, 0.001, 3)
            if entry_type in ("withdrawal", "fee") and running[code] >= amount:
                amount = -amount
            running[code] += amount
            # KuCoin: every other entry is the high-frequency account's, listed by /api/v1/hf/accounts/ledgers.
            yield [
                user.id,
                kind,
                True,
                txid,
                when,
                code,
                amount,
                Decimal("0"),
                code,
                None,
                "",
                "",
                entry_type,
                running[code],
                "",
                "",
                "SUCCESS",
                '{"hf": true}' if index % 2 else "{}",
            ]
            continue
        amount = _amount(rng, 0.01, 5)
        fee = chain.withdrawal_fee if kind == HistoryRecord.Kind.WITHDRAWAL else Decimal("0")
        address = sandbox_address(code, chain.chain_id, f"{user.email}:{index}")
        yield [
            user.id,
            kind,
            True,
            txid,
            when,
            code,
            amount,
            fee,
            code,
            None,
            "",
            "",
            "",
            None,
            address,
            chain.chain_id,
            "SUCCESS",
            "{}",
        ]


def _bulk_insert(rows, batch_size: int = 5000) -> None:
    """PostgreSQL COPY where available (millions of rows in seconds), bulk_create batches elsewhere."""
    if connection.vendor == "postgresql":
        table = HistoryRecord._meta.db_table
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    batch = []
    for row in rows:
        values = dict(zip(COPY_COLUMNS, row, strict=True))
        values["details"] = json.loads(values["details"])
        batch.append(HistoryRecord(**values))
        if len(batch) >= batch_size:
            HistoryRecord.objects.bulk_create(batch)
            batch = []
    if batch:
        HistoryRecord.objects.bulk_create(batch)
