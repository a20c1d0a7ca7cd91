from rest_framework import serializers

from broker_portal.models import AuditEvent
from connectors.exchanges import exchange_choices
from connectors.models import ExchangeConnection
from exports.models import ExportFormat, ExportJob, HistoryKind
from exports.services.jobs import export_range_errors
from withdrawals.fees import amount_input_error
from withdrawals.models import Withdrawal


def money(**kwargs) -> serializers.DecimalField:
    """An amount as the exchanges give it: exact, up to 18 decimal places."""
    return serializers.DecimalField(max_digits=38, decimal_places=18, **kwargs)


class ConnectionFilter(serializers.Serializer):
    exchange = serializers.ChoiceField(choices=exchange_choices(), required=False)
    status = serializers.ChoiceField(choices=ExchangeConnection.Status.choices, required=False)


class AuditEventFilter(serializers.Serializer):
    action = serializers.CharField(max_length=64, required=False)


class ConnectionSerializer(serializers.ModelSerializer):
    server = serializers.CharField(
        source="server_slug",
        read_only=True,
        help_text="Which of the tenant's servers of this exchange (its slug); empty where the exchange has one.",
    )
    masked_api_key = serializers.CharField(read_only=True)
    secrets_readable = serializers.BooleanField(
        read_only=True, help_text="False where a stored key or token no longer decrypts: connect again."
    )

    class Meta:
        model = ExchangeConnection
        fields = [
            "id",
            "exchange",
            "server",
            "exchange_account_id",
            "status",
            "permissions",
            "masked_api_key",
            "secrets_readable",
            "access_expires_at",
            "refresh_expires_at",
            "last_refreshed_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields


class StartConnectInput(serializers.Serializer):
    permissions = serializers.ListField(child=serializers.CharField(max_length=80), allow_empty=False)
    server = serializers.SlugField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="Which of the tenant's servers of this exchange (its slug, as in the "
        "connections' `server`); leave out where the exchange has one.",
    )


class StartConnectOutput(serializers.Serializer):
    authorize_url = serializers.URLField(required=False, help_text="Where this browser session goes to consent.")
    connect_url = serializers.URLField(help_text="The portal page a signed-in user opens to connect.")


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    total = money()
    value_usdt = serializers.DecimalField(max_digits=38, decimal_places=2, allow_null=True)


class BalancesSerializer(serializers.Serializer):
    balances = BalanceSerializer(many=True)
    total_usdt = serializers.DecimalField(
        max_digits=38,
        decimal_places=2,
        allow_null=True,
        help_text="null where an asset has no price (its value_usdt is null)",
    )
    error = serializers.CharField(allow_blank=True)
    as_of = serializers.DateTimeField(allow_null=True, help_text="when these balances were read at the exchange")
    reading = serializers.BooleanField(help_text="a newer read is under way: ask again in a moment")


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "actor_repr",
            "target_type",
            "target_id",
            "target_repr",
            "ip_address",
            "details",
        ]
        read_only_fields = fields


class WithdrawalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    connection = serializers.IntegerField(source="connection_id")
    exchange = serializers.CharField()
    state = serializers.CharField()
    idempotency_key = serializers.UUIDField()
    currency = serializers.CharField()
    chain = serializers.CharField()
    withdraw_type = serializers.CharField()
    destination = serializers.CharField()
    memo = serializers.CharField()
    remark = serializers.CharField()
    amount = money()
    fee_deduct_type = serializers.CharField()
    chain_fee = money(allow_null=True)
    service_fee = money(allow_null=True)
    total_debit = money(allow_null=True)
    amount_received = money(allow_null=True)
    price_usdt = money(allow_null=True)
    price_at = serializers.DateTimeField(allow_null=True)
    quote_expires_at = serializers.DateTimeField(allow_null=True)
    factors_all = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    factors_sent = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    exchange_withdrawal_id = serializers.CharField()
    exchange_status = serializers.CharField()
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()


class WithdrawalCreateInput(serializers.Serializer):
    connection = serializers.IntegerField()
    idempotency_key = serializers.UUIDField(
        required=False,
        help_text="Issued by you when the withdrawal starts; the same key always updates the same draft.",
    )
    currency = serializers.CharField(max_length=16)
    chain = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    withdraw_type = serializers.ChoiceField(choices=Withdrawal.WithdrawType.choices, default="ADDRESS")
    destination = serializers.CharField(max_length=255)
    memo = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    remark = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    amount = serializers.CharField(max_length=40, help_text="A decimal string, e.g. 0.0125.")
    fee_deduct_type = serializers.ChoiceField(
        choices=Withdrawal.FeeDeductType.choices,
        default="EXTERNAL",
        help_text="KuCoin's meaning: INTERNAL takes the fees from the amount (the recipient gets less), EXTERNAL "
        "from your balance (the recipient gets the amount).",
    )

    def validate_amount(self, value: str) -> str:
        error = amount_input_error(value.strip())
        if error:
            raise serializers.ValidationError(error)
        return value.strip()


class FactorsInput(serializers.Serializer):
    mfa_code = serializers.CharField(
        max_length=16,
        help_text="The portal user's current authenticator code: the step-up before anything goes to the exchange.",
    )


class SubmitInput(serializers.Serializer):
    codes = serializers.DictField(
        child=serializers.CharField(max_length=16),
        required=False,
        default=dict,
        help_text="The exchange's 2FA codes by factor, e.g. GAV and EMV.",
    )


class ExportCreateInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=ExportJob.Scope.choices)
    user = serializers.IntegerField(required=False)
    connection = serializers.IntegerField(required=False)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=HistoryKind.choices), allow_empty=False)
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    date_from = serializers.DateField()
    date_to = serializers.DateField()

    def validate(self, attrs):
        errors = export_range_errors(attrs["date_from"], attrs["date_to"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ExportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    scope = serializers.CharField()
    kinds = serializers.ListField(child=serializers.CharField())
    format = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    status = serializers.CharField()
    rows_written = serializers.IntegerField()
    rows_total = serializers.IntegerField()
    row_counts = serializers.DictField(child=serializers.IntegerField())
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    error = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class HistoryCoverageSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=HistoryKind.choices)
    covered_from = serializers.DateTimeField(allow_null=True, help_text="Every row from here on is held ...")
    covered_to = serializers.DateTimeField(allow_null=True, help_text="... up to here (when the last sync began).")
    gap_before = serializers.BooleanField(
        help_text="Nothing is held before covered_from that the history start "
        "asks for: an export from earlier misses rows."
    )
    kept_days = serializers.IntegerField(allow_null=True, help_text="How long the exchange keeps this kind.")
    rows = serializers.IntegerField(help_text="The rows of this kind the syncs have stored.")
    in_progress = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    last_synced_at = serializers.DateTimeField(allow_null=True)


class HistorySyncSerializer(serializers.Serializer):
    connection = serializers.IntegerField(source="connection.pk")
    exchange = serializers.CharField(source="connection.exchange")
    user = serializers.EmailField(source="connection.user.email")
    coverage = HistoryCoverageSerializer(many=True)


class DepositQuery(serializers.Serializer):
    asset = serializers.CharField(max_length=16, help_text="The asset's code, e.g. BTC.")
    network = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The network's id from deposit-networks; may be left out where the asset has one network.",
    )


class DepositNetworksQuery(serializers.Serializer):
    asset = serializers.CharField(max_length=16, help_text="The asset's code, e.g. BTC.")


class DepositNetworkSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The exchange's id of the network: pass it as ``network``.")
    name = serializers.CharField()
    minimum = money(allow_null=True, help_text="The smallest deposit the exchange credits, where it says.")
    memo_required = serializers.BooleanField()
    enabled = serializers.BooleanField(help_text="False while the exchange takes no deposits on it.")


class DepositNetworksSerializer(serializers.Serializer):
    asset = serializers.CharField()
    networks = DepositNetworkSerializer(many=True)


class DepositAddressSerializer(serializers.Serializer):
    asset = serializers.CharField()
    network = DepositNetworkSerializer()
    address = serializers.CharField(allow_null=True, help_text="Null where the account has no address there yet.")
    memo = serializers.CharField(allow_blank=True, help_text="Memo or tag: without it the deposit is not credited.")
    memo_label = serializers.CharField()
    minimum = money(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    created = serializers.BooleanField(help_text="True where this request made the address.")
    can_create = serializers.BooleanField(help_text="True where there is none and POST would create one.")
