"""Webhook endpoints and their delivery logs in the admin, scoped to the broker admin's tenant; every write goes
through ``services`` (which audit), and a secret is shown once, on a page no cache keeps."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from broker_portal.admin import ReadOnlyAdminMixin, TenantScopedAdmin

from . import services
from .events import EVENT_TYPE_CHOICES
from .models import WebhookDelivery, WebhookEndpoint


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=EVENT_TYPE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event type.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "url", "description", "event_types"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["enabled"] = self.instance.status == WebhookEndpoint.Status.ENABLED

    def clean_url(self):
        url = self.cleaned_data["url"]
        if url != self.instance.url or not self.instance.pk:
            problem = services.url_problem(url)
            if problem:
                raise forms.ValidationError(problem)
        return url


def secrets_page(request, secrets, *, rotated: bool):
    response = render(
        request,
        "webhooks/admin/secrets_once.html",
        {
            "secrets": secrets,
            "rotated": rotated,
            "title": "Webhook signing secrets",
            "opts": WebhookEndpoint._meta,
            "has_view_permission": True,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    form = EndpointForm
    list_display = ["url", "status", "types", "failing_since", "paused_reason", "log", "tenant"]
    list_filter = ["status"]
    readonly_fields = ["status", "paused_reason", "failing_since", "previous_secret_expires_at", "created_at"]
    actions = ["rotate_secret", "test_fire"]

    def get_fields(self, request, obj=None):
        fields = ["tenant"] if request.user.is_superuser else []
        fields += ["url", "description", "event_types", "enabled"]
        if obj is not None:
            fields += self.readonly_fields
        return fields

    @admin.display(description="Deliveries")
    def log(self, obj) -> str:
        url = reverse("admin:webhooks_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint={}">Delivery log</a>', url, obj.pk)

    @admin.display(description="Events")
    def types(self, obj) -> str:
        return ", ".join(obj.event_types) or "all"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        tenant = data.get("tenant") if request.user.is_superuser else request.tenant
        if change:
            services.endpoint_update(
                endpoint=obj,
                request=request,
                url=data["url"],
                event_types=data["event_types"],
                description=data["description"],
                enabled=data["enabled"],
            )
            return
        endpoint, secret = services.endpoint_create(
            tenant=tenant,
            url=data["url"],
            event_types=data["event_types"],
            description=data["description"],
            request=request,
        )
        if not data["enabled"]:
            services.endpoint_update(endpoint=endpoint, request=request, enabled=False)
        obj.pk, obj.tenant = endpoint.pk, endpoint.tenant
        request._webhook_secret = (endpoint, secret)

    def response_add(self, request, obj, post_url_continue=None):
        return secrets_page(request, [request._webhook_secret], rotated=False)

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj, request=request)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_delete(endpoint=endpoint, request=request)

    @admin.action(
        description="Rotate the signing secret (the old one signs on during the overlap)", permissions=["change"]
    )
    def rotate_secret(self, request, queryset):
        rotated = [services.endpoint_rotate_secret(endpoint=endpoint, request=request) for endpoint in queryset]
        return secrets_page(request, rotated, rotated=True)

    @admin.action(description="Send a test event", permissions=["change"])
    def test_fire(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_test_fire(endpoint=endpoint, request=request)
        self.message_user(
            request, f"Test event queued for {queryset.count()} endpoint(s); see the delivery log.", messages.SUCCESS
        )


class EndpointFilter(admin.SimpleListFilter):
    """The admin's own tenant's endpoints only."""

    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request, model_admin):
        endpoints = WebhookEndpoint.objects.all()
        if not request.user.is_superuser:
            endpoints = endpoints.filter(tenant=request.tenant)
        return [(endpoint.pk, endpoint.url) for endpoint in endpoints]

    def queryset(self, request, queryset):
        return queryset.filter(endpoint_id=self.value()) if self.value() else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """The delivery log: filter by endpoint, status and day, then replay what is selected (one, or every failed one
    of a time range: filter status "Failed" and the days, select all)."""

    list_display = [
        "webhook_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "response_code",
        "response_ms",
        "last_attempt_at",
        "next_attempt_at",
        "last_error",
        "created_at",
    ]
    list_filter = [EndpointFilter, "status", "event__type"]
    date_hierarchy = "created_at"
    list_select_related = ["event", "endpoint"]
    search_fields = ["webhook_id"]
    fields = [
        "webhook_id",
        "endpoint",
        "event_type",
        "payload",
        "status",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "response_code",
        "response_ms",
        "last_error",
        "succeeded_at",
        "retry_from",
        "created_at",
    ]
    actions = ["replay"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="Event")
    def event_type(self, obj) -> str:
        return obj.event.type

    @admin.display(description="Payload")
    def payload(self, obj) -> dict:
        return obj.event.payload

    @admin.action(description="Replay the selected deliveries (same webhook-id)", permissions=["view"])
    def replay(self, request, queryset):
        count = 0
        for delivery in queryset.select_related("endpoint"):
            services.delivery_replay(delivery=delivery, request=request)
            count += 1
        self.message_user(request, f"{count} delivery(ies) queued again.", messages.SUCCESS)
