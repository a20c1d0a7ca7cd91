"""State of the simulated exchanges: clients, users, balances, grants, keys, histories, faults."""

from django.db import models


class Exchange(models.TextChoices):
    KUCOIN = "kucoin", "KuCoin"
    OKX = "okx", "OKX"
    KRAKEN = "kraken", "Kraken"
    PEATIO = "peatio", "Peatio-style"


def money_field(**kwargs):
    return models.DecimalField(max_digits=38, decimal_places=18, **kwargs)


class Client(models.Model):
    """A broker application registered at an exchange (what the exchange's partner form produces)."""

    class Type(models.TextChoices):
        CONFIDENTIAL = "confidential"
        PUBLIC = "public"

    exchange = models.CharField(max_length=16, choices=Exchange.choices)
    client_id = models.CharField(max_length=200)
    client_secret = models.CharField(max_length=200, blank=True)
    client_type = models.CharField(max_length=16, choices=Type.choices, default=Type.CONFIDENTIAL)
    redirect_uris = models.JSONField(default=list)
    permissions = models.JSONField(default=list)
    rsa_public_key = models.TextField(blank=True)
    # OKX Fast API: only an API broker may create keys (50117), and a bound key (bindApp) needs the broker's server
    # IP allowlist (50118); both come with the broker's application (okx/builder-integration-demo,
    # demos/third-party-fastapi/INTEGRATION_GUIDE.md "Prerequisites", PITFALLS.md "Error Codes").
    api_broker = models.BooleanField(default=True)
    ip_allowlist = models.JSONField(default=list, blank=True)
    # KuCoin: the broker name KuCoin issues with the partner id, checked against every call's KC-BROKER-NAME.
    broker_name = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["exchange", "client_id"], name="sandbox_client_unique")]

    def __str__(self):
        return f"{self.exchange}:{self.client_id}"

    @property
    def is_public(self) -> bool:
        return self.client_type == self.Type.PUBLIC


class SandboxUser(models.Model):
    """An exchange account a person signs in to on the consent page."""

    exchange = models.CharField(max_length=16, choices=Exchange.choices)
    email = models.EmailField()
    password = models.CharField(max_length=200)  # a Django password hash
    uid = models.CharField(max_length=32)
    totp_secret = models.CharField(max_length=64, blank=True)  # empty: no authenticator bound
    withdrawal_whitelist = models.BooleanField(default=False)
    # Address book: [{"name", "currency", "chain", "address", "memo"}]; Kraken withdraws by "name".
    address_book = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["exchange", "email"], name="sandbox_user_unique")]

    def __str__(self):
        return f"{self.exchange}:{self.email}"


class Balance(models.Model):
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="balances")
    currency = models.CharField(max_length=16)
    available = money_field(default=0)  # the account deposits land in and withdrawals leave from
    # The account spot orders trade from where the exchange keeps it apart: KuCoin's high-frequency trading account
    # (``trade_hf``: "make sure there are enough funds in your high-frequency trading account" before an HF order,
    # Kucoin/kucoin-api-docs-hf source/localizable/index.html.md, "Order placement"; level A). Unused elsewhere.
    trading = money_field(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "currency"], name="sandbox_balance_unique")]


class AuthorizationCode(models.Model):
    code = models.CharField(max_length=100, unique=True)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE)
    redirect_uri = models.TextField()
    scopes = models.JSONField(default=list)
    code_challenge = models.CharField(max_length=200, blank=True)
    code_challenge_method = models.CharField(max_length=10, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class Token(models.Model):
    """One access/refresh pair. A family is every pair descended from one authorization code."""

    family = models.CharField(max_length=64, db_index=True)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE)
    code = models.ForeignKey(AuthorizationCode, null=True, blank=True, on_delete=models.SET_NULL)
    scopes = models.JSONField(default=list)
    access_token = models.CharField(max_length=200, unique=True)
    access_secret = models.CharField(max_length=200, blank=True)  # Peatio: the token is access_key:secret_key
    refresh_token = models.CharField(max_length=200, unique=True)
    device_id = models.CharField(max_length=200, blank=True)  # OKX PKCE mode: the TERMID it is bound to
    access_expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField()
    refresh_used_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)  # a refresh replaced this pair
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()


class ApiKey(models.Model):
    """A Fast API key (KuCoin, OKX, Kraken) created on a user's behalf by a broker."""

    exchange = models.CharField(max_length=16, choices=Exchange.choices)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="api_keys")
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    api_key = models.CharField(max_length=200, unique=True)
    secret = models.CharField(max_length=200)
    passphrase = models.CharField(max_length=100, blank=True)
    version = models.CharField(max_length=4, blank=True)
    permissions = models.JSONField(default=list)
    addressbook_only = models.BooleanField(default=False)
    ip_allowlist = models.JSONField(default=list)
    nonce_window = models.BigIntegerField(default=0)
    last_nonce = models.BigIntegerField(default=0)
    valid_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)


class UsedTonce(models.Model):
    """Peatio tonces are single use per access key."""

    access_key = models.CharField(max_length=200)
    tonce = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["access_key", "tonce"], name="sandbox_tonce_unique")]


class HistoryRecord(models.Model):
    """One trade, deposit, withdrawal or ledger entry; each exchange formats these its own way."""

    class Kind(models.TextChoices):
        TRADE = "trade"
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        LEDGER = "ledger"

    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    synthetic = models.BooleanField(default=False)  # generated by seeding, replaced on re-seed
    txid = models.CharField(max_length=100)
    time = models.DateTimeField()
    currency = models.CharField(max_length=16)
    amount = money_field()  # signed for ledger entries
    fee = money_field(default=0)
    fee_currency = models.CharField(max_length=16, blank=True)
    price = money_field(null=True, blank=True)
    pair = models.CharField(max_length=32, blank=True)
    side = models.CharField(max_length=8, blank=True)
    entry_type = models.CharField(max_length=32, blank=True)  # ledger: trade, deposit, withdrawal, fee
    balance_after = money_field(null=True, blank=True)
    address = models.CharField(max_length=200, blank=True)
    chain = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, blank=True)
    completes_at = models.DateTimeField(null=True, blank=True)  # a pending withdrawal succeeds then
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "kind", "time", "id"], name="sandbox_history_page")]


class WithdrawalTransaction(models.Model):
    """KuCoin's 2FA step: a withdrawal waiting for its verification codes."""

    transaction_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL)
    params = models.JSONField()
    email_code = models.CharField(max_length=6)
    failed_attempts = models.IntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    withdrawal = models.ForeignKey(HistoryRecord, null=True, blank=True, on_delete=models.SET_NULL)


class WithdrawalRequest(models.Model):
    """Withdrawal requests counted for the UID/MAIL/PHONE rate limits."""

    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE)
    withdraw_type = models.CharField(max_length=16)
    requested_at = models.DateTimeField(db_index=True)


class InboxMessage(models.Model):
    """An e-mail the sandbox "sent" to one of its users."""

    exchange = models.CharField(max_length=16, choices=Exchange.choices)
    to_email = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    code = models.CharField(max_length=16, blank=True)
    sent_at = models.DateTimeField()


class Fault(models.Model):
    """A misbehaviour injected into one endpoint, shared by every process through the database."""

    class Kind(models.TextChoices):
        ERROR_500 = "500"
        RATE_LIMIT = "429"
        SLOW = "slow"
        HANG = "hang"
        RESET = "reset"
        INVALID_GRANT = "invalid_grant"

    exchange = models.CharField(max_length=16, choices=Exchange.choices)
    endpoint = models.CharField(max_length=200)  # an endpoint name (e.g. "token") or a path
    kind = models.CharField(max_length=16, choices=Kind.choices)
    remaining = models.IntegerField(null=True, blank=True)  # None: until cleared
    probability = models.FloatField(default=1.0)  # a chance, not money
    delay_seconds = models.FloatField(default=0)
    retry_after = models.IntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)


class SandboxClock(models.Model):
    """A single row: how far the sandbox's "now" is ahead of the real clock."""

    offset_seconds = models.FloatField(default=0)


class DepositAddress(models.Model):
    """One of an account's deposit addresses for a currency on a chain (the exchange is the account's)."""

    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="deposit_addresses")
    currency = models.CharField(max_length=16)
    chain = models.CharField(max_length=32)  # the sandbox's chain id (Chain.chain_id)
    address = models.CharField(max_length=200, blank=True)  # blank: Peatio is still generating it
    memo = models.CharField(max_length=64, blank=True)
    account_type = models.CharField(max_length=8, blank=True)  # KuCoin's "to": MAIN or TRADE
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "currency", "chain"], name="sandbox_deposit_address")]


class SpotOrder(models.Model):
    """A spot order on one account (the exchange is the account's), with its one fill where it filled, and the
    broker attribution the order came with (KuCoin's partner headers, OKX's tag), as each exchange stores it."""

    class Status(models.TextChoices):
        OPEN = "open"
        FILLED = "filled"
        CANCELLED = "cancelled"

    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="spot_orders")
    order_id = models.CharField(max_length=64, unique=True)
    client_order_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=32)  # the sandbox's BASE-QUOTE
    side = models.CharField(max_length=4)
    type = models.CharField(max_length=8)
    price = money_field(null=True, blank=True)
    size = money_field()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    filled_size = money_field(default=0)
    funds = money_field(default=0)  # the filled value in the quote currency
    fee = money_field(default=0)
    fee_currency = models.CharField(max_length=16, blank=True)
    trade_id = models.CharField(max_length=64, blank=True)
    liquidity = models.CharField(max_length=8, blank=True)  # maker or taker
    attribution = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "symbol", "status"], name="sandbox_spot_order")]
