from rest_framework import serializers

from broker_portal.models import AuditEvent
from connectors.exchanges import exchange_choices
from connectors.models import ExchangeConnection


class ConnectionFilter(serializers.Serializer):
    exchange = serializers.ChoiceField(choices=exchange_choices(), required=False)
    status = serializers.ChoiceField(choices=ExchangeConnection.Status.choices, required=False)


class AuditEventFilter(serializers.Serializer):
    action = serializers.CharField(max_length=64, required=False)


class ConnectionSerializer(serializers.ModelSerializer):
    masked_api_key = serializers.CharField(read_only=True)

    class Meta:
        model = ExchangeConnection
        fields = ["id", "exchange", "exchange_account_id", "status", "permissions", "masked_api_key",
                  "access_expires_at", "refresh_expires_at", "last_refreshed_at", "last_error", "created_at"]
        read_only_fields = fields


class StartConnectInput(serializers.Serializer):
    permissions = serializers.ListField(child=serializers.CharField(max_length=80), allow_empty=False)


class StartConnectOutput(serializers.Serializer):
    authorize_url = serializers.URLField(required=False, help_text="Where this browser session goes to consent.")
    connect_url = serializers.URLField(help_text="The portal page a signed-in user opens to connect.")


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=38, decimal_places=18)
    value_usdt = serializers.DecimalField(max_digits=38, decimal_places=2, allow_null=True)


class BalancesSerializer(serializers.Serializer):
    balances = BalanceSerializer(many=True)
    total_usdt = serializers.DecimalField(max_digits=38, decimal_places=2, allow_null=True)
    error = serializers.CharField(allow_blank=True)


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "action", "actor_repr", "target_type", "target_id", "target_repr",
                  "ip_address", "details"]
        read_only_fields = fields
