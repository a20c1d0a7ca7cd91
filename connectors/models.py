from functools import cached_property

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import models
from fernet_fields import EncryptedCharField, EncryptedField, EncryptedTextField

from broker_portal.uploads import validate_logo

from .exchanges import EXCHANGES, exchange_choices


class ExchangeCredential(models.Model):
    """A tenant's OAuth client at one exchange, with what the exchange's application form asked for."""

    class ClientType(models.TextChoices):
        CONFIDENTIAL = "confidential", "Confidential (server keeps a secret)"
        PUBLIC = "public", "Public (no secret; PKCE)"

    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="exchange_credentials")
    exchange = models.CharField(max_length=32, choices=exchange_choices)
    # Where an exchange package takes several servers per tenant (the generic OAuth 2.0 provider): which one,
    # in its connect URL (/connect/<exchange>/<server>/). Empty: the tenant's one credential for the exchange.
    server_slug = models.SlugField(
        max_length=40,
        blank=True,
        default="",
        help_text="Only for an exchange with several servers: names this one in URLs.",
    )
    is_enabled = models.BooleanField(default=True)
    # Shown on this exchange's (this server's) card; served by the portal itself, as the CSP allows no other.
    logo = models.FileField(
        upload_to="credential-logos/",
        blank=True,
        validators=[validate_logo],
        help_text="PNG, JPEG, WebP or SVG, at most 256 KB: shown on the Connect card.",
    )
    client_id = models.CharField(max_length=200)
    client_secret = EncryptedTextField(blank=True, default="")
    client_type = models.CharField(max_length=20, choices=ClientType.choices, default=ClientType.CONFIDENTIAL)
    redirect_uris = models.JSONField(default=list, blank=True)
    allowed_permissions = models.JSONField(default=list, blank=True)
    default_permissions = models.JSONField(default=list, blank=True)
    service_ip_list = models.JSONField(default=list, blank=True, help_text="IPs the portal calls the exchange from.")
    trading_ip_list = models.JSONField(default=list, blank=True, help_text="IPs that trade with the user keys.")
    authorize_base_url = models.URLField(help_text="Where users are sent to authorize (sandbox or production).")
    api_base_url = models.URLField(help_text="Where the portal calls the exchange (sandbox or production).")
    # Hosts besides the exchange's own that production may call for this credential (a staging exchange, a
    # broker's own OAuth 2.0 server on its network): set by a superuser only (connectors/base/hosts.py).
    extra_hosts = models.JSONField(
        default=list, blank=True, help_text="Hosts outside the exchange's own that a superuser allowed."
    )
    # Kraken encrypts the client secret it issues to this key pair's public half.
    rsa_private_key = EncryptedTextField(blank=True, default="")
    rsa_public_key = models.TextField(blank=True, default="")
    # Broker attribution (KuCoin partner key, OKX broker code, …): per-exchange extras as data.
    broker_key = EncryptedTextField(blank=True, default="")
    settings = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "broker_portal_exchangecredential"  # the table it had in the core app, kept when it moved here
        ordering = ["tenant_id", "exchange"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "exchange"],
                condition=models.Q(server_slug=""),
                name="credential_one_per_exchange",
                violation_error_message="Exchange credential with this Tenant and Exchange already exists.",
            ),
            models.UniqueConstraint(
                fields=["tenant", "exchange", "server_slug"],
                condition=~models.Q(server_slug=""),
                name="credential_one_per_server",
                violation_error_message="This tenant already has a server with this slug.",
            ),
        ]

    def __str__(self):
        return f"{self.get_exchange_display()} client of {self.tenant}"


def secret_fields() -> list[str]:
    return [f.name for f in ExchangeConnection._meta.concrete_fields if isinstance(f, EncryptedField)]


class ExchangeConnectionQuerySet(models.QuerySet):
    def without_secrets(self):
        """Rows whose secrets are read (and decrypted) only when used, with each one's ciphertext beside it, so a
        secret no key opens (a key dropped from FERNET_KEYS, a damaged row) breaks its connection alone, and
        ``unreadable_secrets`` can tell which."""
        return self.defer(*secret_fields()).annotate(
            **{
                f"ciphertext_of_{name}": models.ExpressionWrapper(models.F(name), output_field=models.BinaryField())
                for name in secret_fields()
            }
        )


class ExchangeConnection(models.Model):
    """A user's authorization at one exchange: its tokens, its Fast API key and their health."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REFRESHING = "refreshing", "Refreshing"
        NEEDS_REAUTHORIZATION = "needs_reauthorization", "Needs reauthorization"
        REVOKED = "revoked", "Revoked"
        ERROR = "error", "Error"

    # No index of its own: the unique constraint and connection_tenant_order both lead with the tenant, and each
    # index more is one more write for every claim the refresh sweep makes.
    tenant = models.ForeignKey(
        "broker_portal.Tenant", on_delete=models.CASCADE, related_name="connections", db_index=False
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    exchange = models.CharField(max_length=32, choices=exchange_choices)
    # Which of the tenant's servers of this exchange (ExchangeCredential.server_slug); empty where it has one.
    server_slug = models.CharField(max_length=40, blank=True, default="")
    # Blank where the exchange does not tell who the account is; then a user has one connection there.
    exchange_account_id = models.CharField(max_length=128, blank=True, default="")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.ACTIVE)
    permissions = models.JSONField(default=list, blank=True)

    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    access_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)

    api_key = EncryptedTextField(blank=True, default="")
    api_secret = EncryptedTextField(blank=True, default="")
    api_passphrase = EncryptedTextField(blank=True, default="")
    # Encrypted: for OKX's Fast API keys and Peatio's access keys the exchange's id of the key is the key itself.
    api_key_id = EncryptedCharField(max_length=128, blank=True, default="", help_text="The exchange's id of the key.")
    # Non-secret facts the exchange told us (e.g. OKX's regional API host); never tokens or keys.
    details = models.JSONField(default=dict, blank=True)

    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    # Refresh health: consecutive failed attempts and when the next one is due (backoff); the sweep skips a
    # connection until then, so a failing exchange sees a trickle, not a storm.
    refresh_failures = models.PositiveIntegerField(default=0)
    next_refresh_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set when the user was told that the refresh token will lapse; cleared by the next successful refresh.
    refresh_lapse_warned_at = models.DateTimeField(null=True, blank=True)
    # The refresh under way (connectors/token_refresh.py, "Locking"): its fencing token and when its lease runs out.
    refresh_claim = models.CharField(max_length=32, blank=True, default="")
    refresh_claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Not stored: what a disconnect did at the exchange, for the page that asked (set by connection_disconnect).
    remote_cleanup: dict

    objects = ExchangeConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["exchange", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "exchange", "server_slug", "exchange_account_id"],
                name="connection_one_per_server_account",
            ),
        ]
        indexes = [
            # The lapse check reads connections whose refresh token runs out soon.
            models.Index(fields=["status", "refresh_expires_at"], name="connection_refresh_lapsing"),
            # The changelist's order within a tenant (ConnectionAdmin.ordering).
            models.Index(fields=["tenant", "exchange", "created_at", "id"], name="connection_tenant_order"),
            # The refresh sweep reads active connections by how soon their access token expires, and only those
            # that are neither claimed nor backing off: a row in backoff is not in this index at all, so a long
            # backoff costs the claim nothing.
            models.Index(
                fields=["access_expires_at", "id"],
                name="connection_due_unclaimed",
                condition=models.Q(status="active", next_refresh_attempt_at__isnull=True),
            ),
            # The claimed or backing-off ones, by when their claim or backoff ends (few: due ones, mostly).
            models.Index(
                fields=["next_refresh_attempt_at", "id"],
                name="connection_due_claimed",
                condition=models.Q(status="active", next_refresh_attempt_at__isnull=False),
            ),
            # The changelist's health summary (selectors.connection_health): a tenant's failing connections by their
            # next attempt, and its lapse-warned active ones. Partial, of rare rows: a healthy connection is in
            # neither, so the sweep's claims (which write next_refresh_attempt_at) add no write to either for it.
            models.Index(
                fields=["tenant", "next_refresh_attempt_at", "id"],
                name="connection_failing",
                condition=models.Q(refresh_failures__gt=0) | models.Q(status="error"),
            ),
            models.Index(
                fields=["tenant"],
                name="connection_lapse_warned",
                condition=models.Q(status="active", refresh_lapse_warned_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.get_exchange_display()} connection of {self.user}"

    @cached_property
    def secrets_as_stored(self) -> dict[str, str | None]:
        """Each secret decrypted, None where no configured key opens it (from a ``without_secrets`` row's
        ciphertexts, else read from the database)."""
        if not hasattr(self, f"ciphertext_of_{secret_fields()[0]}"):
            row = ExchangeConnection.objects.without_secrets().filter(pk=self.pk).first()
            return row.secrets_as_stored if row is not None else {}
        values = {}
        for name in secret_fields():
            ciphertext = getattr(self, f"ciphertext_of_{name}")
            try:
                values[name] = (
                    "" if ciphertext is None else self._meta.get_field(name).fernet.decrypt(bytes(ciphertext)).decode()
                )
            except InvalidToken:
                values[name] = None
        return values

    @property
    def permission_labels(self) -> list[str]:
        """The granted permissions as the user reads them (the labels in the exchange's package)."""
        exchange = EXCHANGES.get(self.exchange)
        return exchange.permission_labels(self.permissions or []) if exchange else list(self.permissions or [])

    @property
    def unreadable_secrets(self) -> list[str]:
        return [name for name, value in self.secrets_as_stored.items() if value is None]

    @property
    def secrets_readable(self) -> bool:
        return not self.unreadable_secrets

    @property
    def masked_api_key(self) -> str:
        # A deferred key is read from the row's ciphertext: no query of its own, and no error where it is unreadable.
        api_key = self.__dict__["api_key"] if "api_key" in self.__dict__ else self.secrets_as_stored.get("api_key", "")
        if api_key is None:
            return "(unreadable)"
        return f"{api_key[:4]}…{api_key[-4:]}" if len(api_key) > 12 else ("••••" if api_key else "")
