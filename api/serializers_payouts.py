from rest_framework import serializers

from payouts.models import Payout, PayoutBatch
from payouts.services import MAX_PAYOUTS_PER_BATCH, MAX_REFERENCE_LENGTH, MAX_TXID_LENGTH

from .serializers import money


class PayoutItemInput(serializers.Serializer):
    connection = serializers.IntegerField(min_value=1, help_text="The id of the user's connection (the payee).")
    asset = serializers.CharField(max_length=16)
    network = serializers.CharField(
        max_length=100, help_text="The exchange's network id, as the connection's deposit-networks lists it."
    )
    amount = money(min_value=0)
    reference = serializers.CharField(
        max_length=MAX_REFERENCE_LENGTH,
        help_text="Your own id of the payout, unique in the tenant: the same "
        "reference again is the same payout, never a second one.",
    )


class PayoutBatchInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    payouts = PayoutItemInput(many=True, allow_empty=False, max_length=MAX_PAYOUTS_PER_BATCH)


class PayoutSentInput(serializers.Serializer):
    txid = serializers.CharField(
        max_length=MAX_TXID_LENGTH,
        allow_blank=True,
        default="",
        help_text="The transaction the broker's wallet sent; empty where there is none.",
    )


class PayoutSerializer(serializers.ModelSerializer):
    amount = money(read_only=True)
    exchange = serializers.CharField(source="connection.exchange", read_only=True)
    deposit = serializers.CharField(
        source="deposit.external_id",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The exchange's id of the deposit that confirmed the payout.",
    )

    class Meta:
        model = Payout
        fields = [
            "id",
            "batch",
            "reference",
            "user",
            "connection",
            "exchange",
            "asset",
            "network",
            "network_name",
            "amount",
            "status",
            "error",
            "address",
            "memo",
            "resolved_at",
            "txid",
            "sent_at",
            "received_at",
            "deposit",
            "checked_at",
            "created_at",
        ]
        read_only_fields = fields


class PayoutBatchSerializer(serializers.ModelSerializer):
    payouts = PayoutSerializer(many=True, read_only=True)

    class Meta:
        model = PayoutBatch
        fields = ["id", "name", "created_by", "created_at", "payouts"]
        read_only_fields = fields
