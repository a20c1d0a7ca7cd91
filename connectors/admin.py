from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html

from broker_portal.admin import TenantScopedAdmin

from . import services
from .base import credential as credential_settings
from .exchanges import EXCHANGES, exchange_choices, exchange_packages
from .forms import ExchangeCredentialForm, masked
from .models import ExchangeConnection, ExchangeCredential
from .onboarding import application_form
from .selectors import connection_health
from .token_refresh import connections_refresh_now


class ExchangeFilter(admin.SimpleListFilter):
    """By exchange, offering the exchanges the portal knows: a field's own filter would first read the distinct
    values of every row."""

    title = "exchange"
    parameter_name = "exchange"

    def lookups(self, request, model_admin):
        return exchange_choices()

    def queryset(self, request, queryset):
        return queryset if self.value() is None else queryset.filter(exchange=self.value())


@admin.register(ExchangeCredential)
class ExchangeCredentialAdmin(TenantScopedAdmin):
    audit_name = "credential"  # as the credential services name their events
    form = ExchangeCredentialForm
    list_display = [
        "exchange",
        "tenant",
        "client_id",
        "client_type",
        "is_enabled",
        "secret_status",
        "updated_at",
        "application_link",
    ]
    list_filter = ["exchange", "is_enabled"]
    readonly_fields = ["secret_status", "broker_key_status", "rsa_public_key_pem"]
    actions = ["generate_rsa_key_pair", "test_connection"]
    fieldsets = [
        (None, {"fields": ["tenant", "exchange", "server_slug", "is_enabled", "logo", "client_id", "client_type"]}),
        (
            "Secrets (write-only)",
            {
                "fields": [
                    "secret_status",
                    "new_client_secret",
                    "issued_encrypted_client_secret",
                    "broker_key_status",
                    "new_broker_key",
                ]
            },
        ),
        ("OAuth", {"fields": ["redirect_uris", "allowed_permissions", "default_permissions"]}),
        (
            "Network",
            {"fields": ["authorize_base_url", "api_base_url", "extra_hosts", "service_ip_list", "trading_ip_list"]},
        ),
        ("RSA key (Kraken)", {"fields": ["rsa_public_key_pem"]}),
        (
            "Exchange-specific settings (JSON)",
            {
                "fields": ["settings"],
                "classes": ["collapse"],
                "description": "Only for what the fields above do not cover; most credentials keep {} here.",
            },
        ),
    ]
    # Fields only some exchanges use, by what their package calls them (application_form, CREDENTIAL_FIELDS).
    OPTIONAL_FIELDS = {
        "service_ip_list": ["service_ip_list"],
        "trading_ip_list": ["trading_ip_list"],
        "rsa_public_key": ["rsa_public_key_pem", "issued_encrypted_client_secret"],
        "broker_key": ["broker_key_status", "new_broker_key"],
    }

    def fields_unused(self, exchange_id: str) -> set[str]:
        """The optional fields this exchange does not use: its credential's page leaves them out."""
        package = exchange_packages().get(exchange_id)
        used = set(getattr(EXCHANGES.get(exchange_id), "application_form", ()))
        used |= set(credential_settings.credential_fields(package.module)) if package else set()
        return {name for group, names in self.OPTIONAL_FIELDS.items() if group not in used for name in names}

    def chosen_exchange(self, request, obj=None) -> str | None:
        """The exchange whose fields the page shows: the credential's own, or on the add page the one chosen
        (``?exchange=kucoin``, then the posted form's); None when none or an unknown one was chosen."""
        if obj is not None:
            return obj.exchange
        chosen = request.POST.get("exchange") or request.GET.get("exchange")
        return chosen if chosen in EXCHANGES else None

    def get_fieldsets(self, request, obj=None):
        # Each exchange's own settings fields, only on that exchange's credentials.
        exchange_id = self.chosen_exchange(request, obj)
        own = [
            (EXCHANGES[owner].name, {"fields": names})
            for owner, names in self.settings_field_names()
            if exchange_id is None or owner == exchange_id
        ]
        fieldsets = [*self.fieldsets[:-1], *own, self.fieldsets[-1]]
        if exchange_id is not None:
            unused = self.fields_unused(exchange_id)
            fieldsets = [
                (title, {**options, "fields": [f for f in options["fields"] if f not in unused]})
                for title, options in fieldsets
            ]
            fieldsets = [(title, options) for title, options in fieldsets if options["fields"]]
        if obj is None and exchange_id is not None:
            first_title, first = fieldsets[0]
            change = reverse("admin:connectors_exchangecredential_add")
            description = format_html(
                'A {} credential: only the fields {} uses. <a href="{}">Choose another exchange</a>',
                EXCHANGES[exchange_id].name,
                EXCHANGES[exchange_id].name,
                change,
            )
            fieldsets[0] = (first_title, {**first, "description": description})
        if request.user.is_superuser:
            return fieldsets
        first_title, first = fieldsets[0]
        return [(first_title, {**first, "fields": [f for f in first["fields"] if f != "tenant"]}), *fieldsets[1:]]

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        # On the add page the chosen exchange is the only choice: its fields are the ones the form shows.
        chosen = request.POST.get("exchange") or request.GET.get("exchange")
        match = request.resolver_match
        adding = match is not None and (match.url_name or "").endswith("_add")
        if db_field.name == "exchange" and adding and chosen in EXCHANGES:
            kwargs["choices"] = [(chosen, EXCHANGES[chosen].name)]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def add_view(self, request, form_url="", extra_context=None):
        """Adding a credential starts with its exchange: the form then asks only for what that exchange uses."""
        if request.method != "POST" and self.chosen_exchange(request) is None:
            return self.exchange_chooser_view(request)
        return super().add_view(request, form_url, extra_context)

    def exchange_chooser_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        unknown = request.GET.get("exchange", "")
        query = request.GET.copy()
        query.pop("exchange", None)
        choices = []
        for exchange_id, name in exchange_choices():
            query["exchange"] = exchange_id
            choices.append({"id": exchange_id, "name": name, "query": query.urlencode()})
        return render(
            request,
            "admin/connectors/exchangecredential/choose_exchange.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "choices": choices,
                "unknown": unknown,
                "title": "Add a credential: choose its exchange",
            },
        )

    def get_readonly_fields(self, request, obj=None):
        # Broker admins see which extra hosts their credential may call, but only a superuser allows one.
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else [*readonly, "extra_hosts"]

    @staticmethod
    def settings_field_names() -> list[tuple[str, list[str]]]:
        by_exchange: dict[str, list[str]] = {}
        for name, (exchange_id, _, _) in ExchangeCredentialForm.SETTINGS_FIELDS.items():
            by_exchange.setdefault(exchange_id, []).append(name)
        return list(by_exchange.items())

    def get_urls(self):
        return [
            path(
                "<int:pk>/application/",
                self.admin_site.admin_view(self.application_view),
                name="connectors_exchangecredential_application",
            ),
            *super().get_urls(),
        ]

    def application_view(self, request, pk):
        """Everything the exchange's application form asks for, and what is still missing."""
        credential = self.get_object(request, pk)
        if credential is None or not self.has_view_permission(request, credential):
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(pk))
        items = application_form(credential=credential, request=request)
        return render(
            request,
            "admin/connectors/exchangecredential/application.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "credential": credential,
                "items": items,
                "missing": [item for item in items if item.missing],
                "title": f"{credential.get_exchange_display()} application form",
            },
        )

    @admin.display(description="Application form")
    def application_link(self, obj):
        url = reverse("admin:connectors_exchangecredential_application", args=[obj.pk])
        return format_html('<a href="{}">Prepare</a>', url)

    @admin.display(description="Client secret")
    def secret_status(self, obj):
        return masked(obj.client_secret)

    @admin.display(description="Broker key")
    def broker_key_status(self, obj):
        return masked(obj.broker_key)

    @admin.display(description="RSA public key (for the application form)")
    def rsa_public_key_pem(self, obj):
        return obj.rsa_public_key or "(none: use the action “Generate RSA key pair”)"

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.tenant = request.tenant
        services.credential_save(
            credential=obj,
            changed_fields=[
                f
                for f in form.changed_data
                if f not in {"new_client_secret", "new_broker_key", "issued_encrypted_client_secret"}
            ],
            new_client_secret=form.cleaned_data.get("new_client_secret", ""),
            new_broker_key=form.cleaned_data.get("new_broker_key", ""),
            request=request,
        )

    @admin.action(description="Test connection (read the server's metadata again)")
    def test_connection(self, request, queryset):
        """Where the exchange's package can test its server (the generic provider reads its issuer's metadata):
        the metadata is stored and what was found reported."""
        for credential in queryset:
            package = exchange_packages().get(credential.exchange)
            test = credential_settings.connection_test(package.module) if package else None
            if test is None or not isinstance(credential.settings, dict):
                messages.info(request, f"{credential}: this exchange has nothing to test here.")
                continue
            try:
                credential.settings, report = test(credential.settings, extra_hosts=credential.extra_hosts)
            except credential_settings.ConnectionTestFailed as failed:
                messages.error(request, f"{credential}: {failed}")
                continue
            services.credential_save(credential=credential, changed_fields=["settings"], request=request)
            messages.success(request, f"{credential}: {report}")

    @admin.action(description="Generate RSA key pair (replaces the current one)")
    def generate_rsa_key_pair(self, request, queryset):
        with transaction.atomic():
            for credential in queryset:
                services.credential_generate_rsa_key_pair(credential=credential, request=request)
        messages.success(request, "New key pairs generated. Send each public key to the exchange.")


@admin.register(ExchangeConnection)
class ExchangeConnectionAdmin(TenantScopedAdmin):
    """Connections at a glance; tokens and keys never leave the encrypted columns."""

    change_list_template = "connectors/admin/connection_change_list.html"
    list_display = [
        "user",
        "exchange",
        "status",
        "access_expires_at",
        "refresh_expires_at",
        "last_refreshed_at",
        "refresh_failures",
        "next_refresh_attempt_at",
        "last_error",
        "secrets",
        "tenant",
    ]
    list_filter = ["status", "exchange"]
    search_fields = ["user__email", "exchange_account_id"]
    list_select_related = ["user", "tenant"]
    ordering = ["exchange", "created_at", "id"]  # total, so no "-pk" is appended; index connection_tenant_order
    fields = [
        "tenant",
        "user",
        "exchange",
        "exchange_account_id",
        "status",
        "permissions",
        "masked_api_key",
        "secrets",
        "access_expires_at",
        "refresh_expires_at",
        "last_refreshed_at",
        "refresh_failures",
        "next_refresh_attempt_at",
        "refresh_lapse_warned_at",
        "last_error",
        "details",
        "created_at",
    ]
    actions = ["refresh_now"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def get_queryset(self, request):
        return super().get_queryset(request).without_secrets()

    @admin.display(description="Secrets")
    def secrets(self, obj) -> str:
        unreadable = obj.unreadable_secrets
        # Which keys a dropped FERNET_KEYS entry or a damaged row took: the user must connect again.
        return f"Unreadable, no key opens: {', '.join(unreadable)}" if unreadable else "Readable"

    def has_add_permission(self, request):
        return False  # only a user's own OAuth consent creates a connection

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the disconnect service ends a connection, revoking its API key at the exchange first

    def changelist_view(self, request, extra_context=None):
        # The host's tenant, also for a superuser (whose list shows every tenant): the summary is one tenant's.
        health = connection_health(tenant=request.tenant)
        return super().changelist_view(request, {**(extra_context or {}), **health})

    @admin.action(description="Refresh tokens now", permissions=["view"])
    def refresh_now(self, request, queryset):
        count = connections_refresh_now(connection_ids=list(queryset.values_list("pk", flat=True)), request=request)
        skipped = queryset.count() - count
        self.message_user(
            request,
            f"Refresh queued for {count} connection(s)."
            + (f" {skipped} need their user to reconnect, or are being refreshed." if skipped else ""),
            messages.SUCCESS if count else messages.WARNING,
        )
