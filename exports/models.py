"""Exchange history normalized across exchanges, where each sync stands, and the export jobs built from it."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from connectors.base.history import HistoryKind

AMOUNT = {"max_digits": 38, "decimal_places": 18}


class HistoryEntry(models.Model):
    """One trade, deposit, withdrawal or ledger entry as an exchange reported it.

    Trades: ``currency``/``amount`` is the base side, ``quote_currency``/``quote_amount`` the quote side.
    Ledger entries: ``amount`` is signed (negative leaves the account). Others: ``amount`` is positive.
    """

    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        "connectors.ExchangeConnection", on_delete=models.CASCADE, related_name="history_entries"
    )
    # Copied from the connection so that scope filters need no join on a million-row table.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    exchange = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=HistoryKind.choices)
    external_id = models.CharField(max_length=128)
    occurred_at = models.DateTimeField()
    entry_type = models.CharField(max_length=32, blank=True, default="")
    side = models.CharField(max_length=8, blank=True, default="")
    currency = models.CharField(max_length=16)
    amount = models.DecimalField(**AMOUNT)
    quote_currency = models.CharField(max_length=16, blank=True, default="")
    quote_amount = models.DecimalField(**AMOUNT, null=True, blank=True)
    price = models.DecimalField(**AMOUNT, null=True, blank=True)
    fee = models.DecimalField(**AMOUNT, default=0)
    fee_currency = models.CharField(max_length=16, blank=True, default="")
    balance = models.DecimalField(**AMOUNT, null=True, blank=True)
    address = models.CharField(max_length=255, blank=True, default="")
    txid = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        verbose_name_plural = "history entries"
        constraints = [
            # Per connection rather than per exchange: one exchange account may be connected at two brokers,
            # and each tenant keeps its own copy. The connection fixes the exchange.
            models.UniqueConstraint(fields=["connection", "kind", "external_id"], name="history_entry_once"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="history_entry_fee_not_negative"),
        ]
        indexes = [
            # The export's order (occurred_at, id) and, read backwards, the changelist's.
            models.Index(fields=["tenant", "occurred_at", "id"], name="history_tenant_time_id"),
            models.Index(fields=["connection", "kind", "occurred_at"], name="history_connection_time"),
        ]

    def __str__(self):
        return f"{self.exchange} {self.kind} {self.external_id}"


class SyncState(models.Model):
    """Where the sync of one connection's one kind stands; a pass that failed resumes from ``resume_cursor``.

    ``covered_from``–``covered_to`` is the range the portal holds every row of, as the exchange reports them: an
    export outside it has a gap, and the exports page and the API say so."""

    connection = models.ForeignKey(
        "connectors.ExchangeConnection", on_delete=models.CASCADE, related_name="history_sync_states"
    )
    kind = models.CharField(max_length=16, choices=HistoryKind.choices)
    # The page to fetch next while a pass is under way, with the range the pass walks; null when no pass is.
    resume_cursor = models.JSONField(null=True, blank=True)
    # Where the pass under way met an exchange's cap (a list of only the newest rows): complete only from here on.
    pass_reach = models.DateTimeField(null=True, blank=True)
    covered_from = models.DateTimeField(null=True, blank=True)
    covered_to = models.DateTimeField(null=True, blank=True)
    rows_stored = models.PositiveBigIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "kind"], name="sync_state_once")]

    def __str__(self):
        return f"{self.connection_id}/{self.kind}"


class ExportFormat(models.TextChoices):
    NATIVE_CSV = "csv", "Native CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    KOINLY = "koinly", "Koinly universal CSV"
    COINTRACKER = "cointracker", "CoinTracker CSV"
    COINLEDGER = "coinledger", "CoinLedger universal CSV"
    COINTRACKING = "cointracking", "CoinTracking CSV"


class ExportJob(models.Model):
    class Scope(models.TextChoices):
        TENANT = "tenant", "Whole tenant"
        USER = "user", "One user"
        CONNECTION = "connection", "One connection"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey("broker_portal.Tenant", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    scope = models.CharField(max_length=16, choices=Scope.choices)
    scope_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    scope_connection = models.ForeignKey(
        "connectors.ExchangeConnection", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kinds = models.JSONField(default=list)
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    date_from = models.DateField()
    date_to = models.DateField()

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveBigIntegerField(default=0)
    rows_written = models.PositiveBigIntegerField(default=0)
    row_counts = models.JSONField(default=dict, blank=True)
    file_name = models.CharField(max_length=255, blank=True, default="")
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # When a worker took the job: a job still RUNNING long after the task's time limit has lost its worker.
    started_at = models.DateTimeField(null=True, blank=True)
    # Written every EXPORT_HEARTBEAT_SECONDS while a worker runs the job: a stale one means its worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="export_scope_matches_target",
                condition=(
                    Q(scope="tenant", scope_user__isnull=True, scope_connection__isnull=True)
                    | Q(scope="user", scope_user__isnull=False, scope_connection__isnull=True)
                    | Q(scope="connection", scope_connection__isnull=False)
                ),
            ),
            models.CheckConstraint(name="export_date_range_ordered", condition=Q(date_from__lte=models.F("date_to"))),
            models.CheckConstraint(
                name="export_done_has_file", condition=~Q(status="done") | (~Q(file_name="") & ~Q(sha256=""))
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-created_at", "-id"], name="export_job_tenant_recent_id")]

    def __str__(self):
        return f"Export {self.pk} ({self.get_format_display()}, {self.date_from}–{self.date_to})"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_written * 100 // self.rows_total)
