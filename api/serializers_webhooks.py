"""The webhook API's input and output: endpoints (their secret only in the answer that makes it) and deliveries."""

from rest_framework import serializers

from webhooks.events import CATALOGUE, EVENT_TYPE_CHOICES
from webhooks.models import WebhookDelivery, WebhookEndpoint


class TextField(serializers.CharField):
    """Text only: a number or a boolean where text belongs is refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class UrlField(TextField, serializers.URLField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """true or false only, not "yes", "1" or 0."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class EndpointSerializer(serializers.ModelSerializer):
    enabled = serializers.SerializerMethodField()
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
        help_text="The event types it receives; empty for every type.",
    )
    previous_secret_expires_at = serializers.SerializerMethodField(
        help_text="Until when the previous secret signs too, after a rotation; null when it does not."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "status",
            "paused_reason",
            "failing_since",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_enabled(self, endpoint) -> bool:
        return endpoint.status == WebhookEndpoint.Status.ENABLED

    def get_previous_secret_expires_at(self, endpoint) -> str | None:
        from django.utils import timezone

        expires = endpoint.previous_secret_expires_at
        return serializers.DateTimeField().to_representation(expires) if expires and expires > timezone.now() else None


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_…). Shown this once: store it now.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointCreateInput(serializers.Serializer):
    url = UrlField(max_length=2000)
    description = TextField(max_length=200, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
        required=False,
        default=list,
        help_text="Empty (or left out) for every type.",
    )


class EndpointUpdateInput(serializers.Serializer):
    url = UrlField(max_length=2000, required=False)
    description = TextField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES), required=False)
    enabled = StrictBooleanField(
        required=False, help_text="false pauses it; true enables it again and sends what waited."
    )


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type", read_only=True)
    event_id = serializers.IntegerField(source="event.pk", read_only=True)
    event_created_at = serializers.DateTimeField(source="event.created_at", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "event_id",
            "event_type",
            "event_created_at",
            "status",
            "attempts",
            "last_attempt_at",
            "next_attempt_at",
            "response_code",
            "response_ms",
            "last_error",
            "succeeded_at",
        ]
        read_only_fields = fields


class DeliveryFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="Events at or after this time.")
    until = serializers.DateTimeField(required=False, help_text="Events before this time.")


class ReplayFailedInput(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Failed deliveries of events at or after this time…")
    until = serializers.DateTimeField(help_text="…and before this one.")


class ReplayFailedOutput(serializers.Serializer):
    replayed = serializers.IntegerField()


class EventTypeSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=EVENT_TYPE_CHOICES)
    description = serializers.CharField()
    data_schema = serializers.JSONField(help_text="The JSON Schema of the envelope's data.")


def event_types() -> list[dict]:
    return [
        {"name": event.name, "description": event.description, "data_schema": event.data_schema}
        for event in CATALOGUE.values()
    ]
