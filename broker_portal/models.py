from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower


class Tenant(models.Model):
    """A broker: its own brand, hosts, users and exchange credentials."""

    class ReferenceCurrency(models.TextChoices):
        # What the portal can price at every exchange's own public ticker: each quotes its assets in USDT, and
        # USDC against USDT (OKX USDC-USDT, KuCoin's prices, Kraken USDCUSDT). USD and EUR are left out: not
        # every exchange quotes them (OKX's global tickers have no USDT-USD pair).
        USDT = "USDT", "USDT"
        USDC = "USDC", "USDC"

    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    primary_color = models.CharField(max_length=7, default="#1f4fd1", help_text="Hex colour, e.g. #1f4fd1")
    accent_color = models.CharField(max_length=7, default="#0f9d58", help_text="Hex colour, e.g. #0f9d58")
    support_email = models.EmailField(blank=True)
    logo = models.FileField(upload_to="tenant-logos/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reference_currency = models.CharField(
        max_length=8,
        choices=ReferenceCurrency.choices,
        default=ReferenceCurrency.USDT,
        help_text="The currency the dashboard's totals and the withdrawal preview's fees are shown in.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(primary_color__regex=r"^#[0-9a-fA-F]{6}$")
                & models.Q(accent_color__regex=r"^#[0-9a-fA-F]{6}$"),
                name="tenant_colors_are_hex",
            )
        ]

    def __str__(self):
        return self.name


class TenantHost(models.Model):
    """A host name (without port) on which a tenant's portal answers."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="hosts")
    host = models.CharField(max_length=253, unique=True)

    class Meta:
        ordering = ["host"]
        constraints = [models.CheckConstraint(condition=models.Q(host=Lower("host")), name="tenant_host_lowercase")]

    def __str__(self):
        return self.host


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.update(is_superuser=True, is_staff=True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in with an e-mail address; what they may do at a broker is their Membership."""

    username = None
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_unique_ci")]

    def __str__(self):
        return self.email


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "End user"
        BROKER_ADMIN = "broker_admin", "Broker admin"
        ACCOUNTANT = "accountant", "Accountant"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_one_per_tenant")]
        indexes = [models.Index(fields=["tenant", "id"], name="membership_tenant_order")]  # the changelist's

    def __str__(self):
        return f"{self.user} at {self.tenant} ({self.get_role_display()})"


class AuditEvent(models.Model):
    """One sensitive action, recorded in the same transaction as the change it describes."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_repr = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The changelist's and the API's order within a tenant, ties by id.
        indexes = [models.Index(fields=["tenant", "-created_at", "-id"], name="audit_tenant_recent_id")]

    def __str__(self):
        return f"{self.action} by {self.actor_repr or 'system'}"
