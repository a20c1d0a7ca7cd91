import ipaddress
import re
from decimal import Decimal

from allauth.socialaccount.providers import registry
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.core.validators import URLValidator
from django.forms.fields import InvalidJSONInput
from django.db import IntegrityError, transaction
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from connectors.base.hosts import check_base_url
from connectors.base.http import HostNotAllowed
from connectors.exchanges import EXCHANGES, exchange_choices, exchange_packages
from connectors.base import credential as credential_settings

from . import crypto, services
from .audit import record_audit_event
from .models import AuditEvent, ExchangeCredential, Membership, Tenant, TenantHost, User
from .selectors import user_belongs_to_tenant_only
from .tenancy import is_broker_admin


def in_tenant(form_class: type[forms.ModelForm], tenant: Tenant) -> type[forms.ModelForm]:
    """The admin's form for a broker admin, who has no tenant field: its row is put in their tenant before it is
    validated, so that what must be unique per tenant (one credential per exchange, one limit per window) is
    checked by the model's own constraints and shown as a form error, not met by the database."""

    class InTenantForm(form_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.instance.tenant_id is None:
                self.instance.tenant = tenant

        def _get_validation_exclusions(self):
            # A field left out of the form is left out of the uniqueness checks; the tenant is known here.
            return super()._get_validation_exclusions() - {"tenant"}

    InTenantForm.__name__ = InTenantForm.__qualname__ = form_class.__name__
    return InTenantForm


def refusal_message(model, error: IntegrityError) -> str:
    """The violated constraint's own message where the model declares it, else what the database said."""
    name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
    for constraint in model._meta.constraints:
        if constraint.name == name:
            return f"Not saved: {constraint.get_violation_error_message()}"
    return f"Not saved: the database refused it ({name or 'a constraint'}). Check the values and try again."


def with_refusal(form_class: type[forms.ModelForm], request) -> type[forms.ModelForm]:
    """The form, failing with the database's refusal of its previous try (see changeform_view)."""

    class RefusableForm(form_class):
        def clean(self):
            cleaned = super().clean()
            refusal = getattr(request, "database_refusal", None)
            if refusal:
                self.add_error(None, refusal)
            return cleaned

    RefusableForm.__name__ = RefusableForm.__qualname__ = form_class.__name__
    return RefusableForm


class CappedCountPaginator(Paginator):
    """Counts at most ``COUNT_CAP`` rows: past that the changelist says "10000 results" and pages that far,
    instead of PostgreSQL counting every row of a tenant's million on each page."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self):
        return self.object_list.order_by().values("pk")[:self.COUNT_CAP].count()


class ExchangeFilter(admin.SimpleListFilter):
    """By exchange, offering the exchanges the portal knows: a field's own filter would first read the distinct
    values of every row."""

    title = "exchange"
    parameter_name = "exchange"

    def lookups(self, request, model_admin):
        return exchange_choices()

    def queryset(self, request, queryset):
        return queryset if self.value() is None else queryset.filter(exchange=self.value())


class TenantScopedAdmin(admin.ModelAdmin):
    """Broker admins see, filter, choose and save only their own tenant's rows; every write here is audited.

    Large lists stay fast whatever the tenant's size: no second count of the whole table, a capped count of the
    filtered rows, and each changelist's ordering has its index (tenant first)."""

    tenant_path = "tenant"  # lookup from this model to its Tenant
    tenant_path_unique = False  # the path crosses a relation yet matches one row per object (a unique constraint)
    audit_name = ""  # what this admin's audit actions start with; the model's name when empty
    show_full_result_count = False
    paginator = CappedCountPaginator

    def tenant_filter_duplicates(self) -> bool:
        """Whether filtering by tenant can repeat a row (so the list needs DISTINCT): only through a relation
        that may hold several rows of one tenant."""
        return not self.tenant_path_unique and lookup_spawns_duplicates(self.opts, self.tenant_path)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        queryset = queryset.filter(**{self.tenant_path: request.tenant})
        return queryset.distinct() if self.tenant_filter_duplicates() else queryset

    def _allowed(self, request):
        return request.user.is_superuser or is_broker_admin(request)

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser and self.tenant_path == "tenant":
            exclude.append("tenant")
        return exclude

    def get_form(self, request, obj=None, **kwargs):
        form = with_refusal(super().get_form(request, obj, **kwargs), request)
        if request.user.is_superuser or self.tenant_path != "tenant":
            return form
        return in_tenant(form, request.tenant)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A save the database refuses (a constraint another request met first, one no form check covers) is a
        form error on the same page, with what was typed, instead of a server error; nothing of it is kept."""
        try:
            with transaction.atomic():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError as error:
            request.database_refusal = refusal_message(self.model, error)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and self.tenant_path == "tenant":
            filters.insert(0, "tenant")
        return filters

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            related = db_field.related_model
            if related is Tenant:
                kwargs["queryset"] = Tenant.objects.filter(pk=request.tenant.pk)
            elif related is User:
                kwargs["queryset"] = User.objects.filter(memberships__tenant=request.tenant)
            elif any(f.name == "tenant" for f in related._meta.fields):
                kwargs["queryset"] = related._default_manager.filter(tenant=request.tenant)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser and self.tenant_path == "tenant":
            obj.tenant = request.tenant
        super().save_model(request, obj, form, change)
        if not change or form.changed_data:
            self.record_admin_event(request, obj, "updated" if change else "created", changed=form.changed_data)

    def save_formset(self, request, form, formset, change):
        """Inline rows are saved one by one, so that each addition, change and deletion is audited."""
        tenant = self.audit_tenant(request, form.instance)
        action = formset.model._meta.model_name
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            record_audit_event(tenant=tenant, action=f"{action}.deleted", target=obj, request=request)
            obj.delete()
        for obj, changed_fields in formset.changed_objects:
            obj.save()
            record_audit_event(tenant=tenant, action=f"{action}.updated", target=obj, request=request,
                               details={"changed": sorted(changed_fields)})
        for obj in formset.new_objects:
            obj.save()
            record_audit_event(tenant=tenant, action=f"{action}.created", target=obj, request=request)
        formset.save_m2m()

    def delete_model(self, request, obj):
        self.record_admin_event(request, obj, "deleted")  # first, while the row still has its id
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.record_admin_event(request, obj, "deleted")
            super().delete_queryset(request, queryset)

    def audit_tenant(self, request, obj) -> Tenant:
        if self.tenant_path == "tenant":
            return obj.tenant
        if self.tenant_path == "pk":
            return obj
        return request.tenant  # a row of several tenants (a user) is audited where the admin acted on it

    def record_admin_event(self, request, obj, verb: str, changed=None) -> None:
        # Field names only, never values: some fields hold secrets.
        details = {"changed": sorted(changed)} if changed is not None else {}
        action = f"{self.audit_name or self.opts.model_name}.{verb}"
        record_audit_event(tenant=self.audit_tenant(request, obj), action=action, target=obj, request=request,
                           details=details)


def amount_text(value) -> str:
    """An amount as people read it: thousands separated, plain notation, no trailing zeros (never 4E+2, never
    18 decimals of zeros)."""
    return "" if value is None else f"{Decimal(value).normalize():,f}"


def amount_column(field_name: str, description: str = ""):
    """A changelist column showing a Decimal field with amount_text, sorted by the field."""

    @admin.display(description=description or field_name.replace("_", " "), ordering=field_name)
    def column(obj):
        return amount_text(getattr(obj, field_name))

    column.__name__ = f"{field_name}_text"
    return column


class ReadOnlyAdminMixin:
    """Rows that only the portal's own flows write (audit events, withdrawals): shown, never edited here."""

    def get_readonly_fields(self, request, obj=None):
        return list(self.fields) if self.fields else [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TenantHostInline(admin.TabularInline):
    model = TenantHost
    extra = 0


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_path = "pk"
    list_display = ["name", "slug", "support_email"]
    search_fields = ["name", "slug"]
    inlines = [TenantHostInline]

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return queryset if request.user.is_superuser else queryset.filter(pk=request.tenant.pk)

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["slug"]

    def get_inlines(self, request, obj):
        return self.inlines if request.user.is_superuser else []

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class MemberAddForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput, help_text="The member changes it after signing in.")
    role = forms.ChoiceField(choices=Membership.Role.choices)

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["tenant", "role"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(tenant=request.tenant)

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["tenant"]

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or is_broker_admin(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or is_broker_admin(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class RoleHereFilter(admin.SimpleListFilter):
    """The role at the admin's own tenant: which of their users hold which role elsewhere is not theirs to know."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return Membership.Role.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if request.user.is_superuser:
            return queryset.filter(memberships__role=self.value())
        # One filter() call, so that the tenant and the role are those of the same membership.
        return queryset.filter(memberships__tenant=request.tenant, memberships__role=self.value())


def save_membership_change(*, membership: Membership, changed_fields: list[str], request) -> None:
    """The role through its service (audited with the stored "from"); anything else a superuser changed, by name."""
    if "role" in changed_fields:
        services.membership_set_role(membership=membership, role=membership.role, request=request)
    other_fields = [name for name in changed_fields if name != "role"]
    if other_fields:
        membership.save(update_fields=other_fields)
        record_audit_event(tenant=membership.tenant, action="member.updated", target=membership, request=request,
                           details={"changed": sorted(other_fields)})


@admin.register(User)
class UserAdmin(TenantScopedAdmin):
    tenant_path = "memberships__tenant"
    tenant_path_unique = True  # one membership per user and tenant (membership_one_per_tenant)
    ordering = ["-id"]  # newest first, read from the tenant's memberships in user order; the pickers page by it
    list_display = ["email", "first_name", "last_name", "is_active", "last_login"]
    list_filter = ["is_active", RoleHereFilter]
    search_fields = ["email", "first_name", "last_name"]
    fields = ["email", "first_name", "last_name", "is_active", "last_login", "date_joined"]
    readonly_fields = ["last_login", "date_joined"]
    inlines = [MembershipInline]

    def lookup_allowed(self, lookup, value, request=None):
        """A broker admin filters only by what the page offers: the list filters and the search (which is no
        lookup). A user is shared by tenants and the platform, so any other field of theirs (is_superuser,
        is_staff, password, …) would tell what is not this tenant's to know."""
        if request is None or request.user.is_superuser:
            return super().lookup_allowed(lookup, value, request)
        offered = set()
        for item in self.get_list_filter(request):
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                offered.add(item.parameter_name)
            else:
                field = item[0] if isinstance(item, (list, tuple)) else item
                # A field's filter sends its own lookups (is_active__exact, is_active__isnull).
                offered.update({field, f"{field}__exact", f"{field}__isnull"})
        return lookup in offered

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = MemberAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["email", "first_name", "last_name", "password", "role"]
        return self.fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def may_manage_account(self, request, user: User) -> bool:
        return request.user.is_superuser or user_belongs_to_tenant_only(user=user, tenant=request.tenant)

    def get_readonly_fields(self, request, obj=None):
        # Someone another tenant (or the platform) also answers for: only their membership here is editable.
        if obj is not None and not self.may_manage_account(request, obj):
            return self.fields
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        # Asked for each selected user by the changelist's delete action too, which then refuses the whole batch.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or self.may_manage_account(request, obj))

    def save_model(self, request, obj, form, change):
        if change:
            if form.changed_data:
                # Only what the form changed: a full save would write back a password changed meanwhile.
                obj.save(update_fields=form.changed_data)
                self.record_admin_event(request, obj, "updated", changed=form.changed_data)
            return
        # New members join the tenant the admin is at; superusers add them there too.
        user = services.member_create(
            tenant=request.tenant, email=form.cleaned_data["email"], password=form.cleaned_data["password"],
            role=form.cleaned_data["role"], request=request,
        )
        User.objects.filter(pk=user.pk).update(first_name=obj.first_name, last_name=obj.last_name)
        obj.pk = user.pk

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.membership_delete(membership=membership, request=request)
        for membership, changed_fields in formset.changed_objects:
            save_membership_change(membership=membership, changed_fields=changed_fields, request=request)
        for membership in formset.new_objects:
            services.membership_add(tenant=membership.tenant, user=form.instance, role=membership.role,
                                    request=request)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    audit_name = "member"
    list_display = ["user", "role", "tenant", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email"]
    list_select_related = ["user", "tenant"]
    autocomplete_fields = ["user"]  # searched among the tenant's users (UserAdmin's queryset), never all listed

    def has_add_permission(self, request):
        # Members are added as users, so the user and the membership are made together.
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change:
            save_membership_change(membership=obj, changed_fields=form.changed_data, request=request)
        else:
            obj.pk = services.membership_add(tenant=obj.tenant, user=obj.user, role=obj.role, request=request).pk

    def delete_model(self, request, obj):
        services.membership_delete(membership=obj, request=request)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for membership in queryset.select_related("user", "tenant"):
                services.membership_delete(membership=membership, request=request)


class LinesField(forms.CharField):
    """A list edited as one value per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        # PostgreSQL's JSON refuses NUL, so it would fail at save (a 500) rather than here.
        if "\x00" in (value or ""):
            raise ValidationError("Remove the NUL character.", code="null_characters_not_allowed")
        lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
        for line in lines:
            self.validate_line(line)
        return lines

    def validate_line(self, line: str) -> None:
        pass


class RedirectUrisField(LinesField):
    """Absolute http(s) URLs without a fragment (RFC 6749 §3.1.2), compared exactly at the exchange."""

    url = URLValidator(schemes=["http", "https"])

    def validate_line(self, line):
        try:
            self.url(line)
        except ValidationError:
            raise ValidationError(f"Not an http(s) URL: {line[:200]}", code="invalid")
        if "#" in line:
            raise ValidationError(f"A redirect URI has no fragment: {line[:200]}", code="invalid")


class IpListField(LinesField):
    def validate_line(self, line):
        try:
            ipaddress.ip_network(line, strict=False)
        except ValueError:
            raise ValidationError(f"Not an IP address or network: {line[:100]}", code="invalid")


HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class HostsField(LinesField):
    """Bare host names or IP addresses, lower case: no scheme, port or path."""

    def to_python(self, value):
        return [line.lower() for line in super().to_python(value)]

    def validate_line(self, line):
        try:
            ipaddress.ip_address(line.strip("[]"))
            return
        except ValueError:
            pass
        if not HOST_NAME.match(line.lower()):
            raise ValidationError(f"Not a host name (no scheme, port or path): {line[:100]}", code="invalid")


# What the OAuth flow reads from the credential's own fields; settings may not replace them (app_from_credential).
RESERVED_SETTINGS = ("client_type", "authorize_base_url", "api_base_url", "redirect_uris", "allowed_permissions",
                     "default_permissions", "credential_id", "call_hosts", "server_slug")
SETTINGS_MAX_DEPTH = 3


def json_depth(value) -> int:
    """Levels of objects and lists, counted without recursion (a value may be nested hundreds deep)."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def json_has_nul(value) -> bool:
    # Called after the depth check, so the recursion stays shallow.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(json_has_nul(key) or json_has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(map(json_has_nul, value))
    return False


class SettingsField(forms.JSONField):
    """A JSON object of a few levels: connect spreads it into the OAuth app's settings."""

    def __init__(self, **kwargs):
        # Not "required": that would refuse {} as empty; validate() refuses a missing value instead.
        kwargs["required"] = False
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            # json.loads gives up on deep nesting with RecursionError, not with the JSONDecodeError Django catches.
            raise ValidationError("Nested too deeply.", code="invalid")

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:  # redisplaying the refused input as it was typed
            return InvalidJSONInput(data)

    def validate(self, value):
        if value is None:
            raise ValidationError("Enter a JSON object; {} for none.", code="required")
        super().validate(value)
        if not isinstance(value, dict):
            raise ValidationError("Enter a JSON object ({...}), not a list, string or number.", code="invalid")
        if json_depth(value) > SETTINGS_MAX_DEPTH:
            raise ValidationError(f"At most {SETTINGS_MAX_DEPTH} levels of nesting.", code="invalid")
        if json_has_nul(value):
            raise ValidationError("Remove the NUL character.", code="null_characters_not_allowed")
        reserved = sorted(set(value) & set(RESERVED_SETTINGS))
        if reserved:
            raise ValidationError(f"Set these in their own fields: {', '.join(reserved)}", code="invalid")


def exchange_settings_errors(exchange_id: str, settings: dict) -> list[str]:
    """The exchange package's own rules for its settings (``credential.settings_errors``), where it has any."""
    package = exchange_packages().get(exchange_id)
    return credential_settings.settings_errors(package.module, settings) if package else []


def exchange_settings_fields() -> dict[str, tuple[str, str, forms.Field]]:
    """Every exchange package's admin fields for its settings, as form field name -> (exchange, key, field)."""
    return {f"{exchange_id}_{key}": (exchange_id, key, field)
            for exchange_id, package in exchange_packages().items()
            for key, field in credential_settings.settings_fields(package.module).items()}


def settings_field_value(value):
    """An exchange's settings field as stored: text stripped, other values (a flag, a list) as they are."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def masked(value: str) -> str:
    return "•••••••• (set)" if value else "(not set)"


class ExchangeCredentialForm(forms.ModelForm):
    redirect_uris = RedirectUrisField(required=False,
                                      help_text="Exactly as registered at the exchange, one per line.")
    allowed_permissions = LinesField(required=False, help_text="Permissions users may grant, one per line.")
    default_permissions = LinesField(required=False, help_text="Preselected permissions, one per line.")
    service_ip_list = IpListField(required=False, help_text="IPs the portal calls the exchange from, one per line.")
    trading_ip_list = IpListField(required=False, help_text="IPs that trade with users' keys, one per line.")
    extra_hosts = HostsField(required=False, label="Extra hosts allowed (superusers only)",
                             help_text="Hosts besides the exchange's own that production may call for this "
                                       "credential (a staging exchange, the broker's own OAuth 2.0 server), one per "
                                       "line. Private addresses are allowed here and nowhere else.")
    settings = SettingsField(help_text="A JSON object of exchange-specific settings; {} for none.")
    new_client_secret = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), label="New client secret",
        help_text="Leave empty to keep the current secret. It is stored encrypted and never shown again.",
    )
    issued_encrypted_client_secret = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Encrypted client secret from Kraken",
        help_text="Paste the base64, RSA-encrypted secret Kraken sent; the portal decrypts it with its private key.",
    )
    new_broker_key = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), label="New broker key",
        help_text="Broker attribution key (e.g. KuCoin partner key). Leave empty to keep the current one.",
    )

    # Each exchange package's fields for its settings (e.g. KuCoin's attribution), added below the class.
    SETTINGS_FIELDS: dict = {}

    class Meta:
        model = ExchangeCredential
        exclude = ["client_secret", "broker_key", "rsa_private_key", "rsa_public_key"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("authorize_base_url", "api_base_url"):
            if name in self.fields:  # fill_base_urls requires them where the exchange cannot derive them
                self.fields[name].required = False
        for name, (exchange_id, key, _) in self.SETTINGS_FIELDS.items():
            if self.instance.exchange == exchange_id and key in (self.instance.settings or {}):
                self.fields[name].initial = self.instance.settings[key]

    def clean_exchange_settings_fields(self, cleaned, exchange_id: str) -> None:
        """The exchange's own fields go into its settings, checked by its package's rule."""
        names = {key: name for name, (owner, key, _) in self.SETTINGS_FIELDS.items() if owner == exchange_id}
        if not names:
            return
        values = {key: settings_field_value(cleaned.get(name)) for key, name in names.items()}
        package = exchange_packages()[exchange_id]
        context = {"extra_hosts": cleaned.get("extra_hosts", self.instance.extra_hosts) or [],
                   "allowed_permissions": cleaned.get("allowed_permissions") or [],
                   "default_permissions": cleaned.get("default_permissions") or [],
                   "settings": cleaned.get("settings") or {}}
        for key, message in credential_settings.settings_fields_errors(package.module, values, **context).items():
            # A rule may name one of the credential's own fields (its permissions) besides its settings' fields.
            self.add_error(names.get(key) or (key if key in self.fields else None), message)
        cleaned["settings"] = {**(cleaned.get("settings") or {}), **values}

    def fill_base_urls(self, cleaned, exchange) -> None:
        """Base URLs left empty come from the exchange's settings where its package derives them (the generic
        provider: its issuer); otherwise they are required."""
        if exchange is None:
            return
        derived = credential_settings.base_urls(exchange_packages()[exchange.id].module, cleaned.get("settings") or {})
        for name, default in zip(("authorize_base_url", "api_base_url"), derived):
            if not cleaned.get(name) and name not in self.errors:
                if default:
                    cleaned[name] = default
                    setattr(self.instance, name, default)
                else:
                    self.add_error(name, forms.Field.default_error_messages["required"])

    def clean_base_urls(self, cleaned, exchange) -> None:
        """Production calls only the exchange's known hosts (the generic provider: public ones), see
        connectors/base/hosts.py; an extra host is one a superuser allowed on this credential (``extra_hosts``) or
        the deployment's EXCHANGE_ALLOWED_EXTRA_HOSTS."""
        allowed = cleaned.get("extra_hosts", self.instance.extra_hosts) or []
        for name in ("authorize_base_url", "api_base_url"):
            try:
                check_base_url(cleaned.get(name) or "", known_hosts=exchange.known_hosts if exchange else None,
                               allowed_hosts=allowed)
            except HostNotAllowed as refused:
                self.add_error(name, str(refused))

    def clean(self):
        cleaned = super().clean()
        if "settings" in cleaned:
            self.clean_exchange_settings_fields(cleaned, cleaned.get("exchange") or self.instance.exchange)
        if "settings" in cleaned:
            for message in exchange_settings_errors(cleaned.get("exchange") or self.instance.exchange,
                                                    cleaned["settings"]):
                self.add_error("settings", message)
        exchange = EXCHANGES.get(cleaned.get("exchange") or getattr(self.instance, "exchange", ""))
        if exchange is not None and exchange.permissions:
            for name in ("allowed_permissions", "default_permissions"):
                unknown = sorted(set(cleaned.get(name) or []) - set(exchange.permission_codes))
                if unknown:
                    self.add_error(name, f"Not a {exchange.name} permission: {', '.join(unknown)}")
            not_allowed = sorted(set(cleaned.get("default_permissions") or []) - set(cleaned.get("allowed_permissions") or []))
            if not_allowed and not self.errors.get("default_permissions"):
                self.add_error("default_permissions", f"Defaults must be allowed too: {', '.join(not_allowed)}")
        self.fill_base_urls(cleaned, exchange)
        self.clean_base_urls(cleaned, exchange)
        provider_class = registry.get_class(exchange.id) if exchange is not None else None
        if cleaned.get("server_slug") and not getattr(provider_class, "several_servers", False):
            self.add_error("server_slug", "This exchange has one server per tenant: leave the slug empty.")
        if getattr(provider_class, "confidential_clients_only", False) and cleaned.get("client_type") == "public":
            self.add_error("client_type", f"{exchange.name} takes only confidential clients (authorization code "
                                          f"with the client secret).")
        encrypted = (cleaned.get("issued_encrypted_client_secret") or "").strip()
        if encrypted:
            try:
                cleaned["new_client_secret"] = services.credential_decrypt_issued_secret(
                    credential=self.instance, encrypted_b64=encrypted
                )
            except crypto.SecretDecryptionError as error:
                self.add_error("issued_encrypted_client_secret", str(error))
        return cleaned


ExchangeCredentialForm.SETTINGS_FIELDS = exchange_settings_fields()
ExchangeCredentialForm.base_fields.update({name: field for name, (_, _, field) in
                                          ExchangeCredentialForm.SETTINGS_FIELDS.items()})
ExchangeCredentialForm.declared_fields.update({name: field for name, (_, _, field) in
                                              ExchangeCredentialForm.SETTINGS_FIELDS.items()})


@admin.register(ExchangeCredential)
class ExchangeCredentialAdmin(TenantScopedAdmin):
    audit_name = "credential"  # as the credential services name their events
    form = ExchangeCredentialForm
    list_display = ["exchange", "tenant", "client_id", "client_type", "is_enabled", "secret_status", "updated_at",
                    "application_link"]
    list_filter = ["exchange", "is_enabled"]
    readonly_fields = ["secret_status", "broker_key_status", "rsa_public_key_pem"]
    actions = ["generate_rsa_key_pair", "test_connection"]
    fieldsets = [
        (None, {"fields": ["tenant", "exchange", "server_slug", "is_enabled", "logo", "client_id", "client_type"]}),
        ("Secrets (write-only)", {"fields": ["secret_status", "new_client_secret", "issued_encrypted_client_secret",
                                             "broker_key_status", "new_broker_key"]}),
        ("OAuth", {"fields": ["redirect_uris", "allowed_permissions", "default_permissions"]}),
        ("Network", {"fields": ["authorize_base_url", "api_base_url", "extra_hosts", "service_ip_list",
                                "trading_ip_list"]}),
        ("RSA key (Kraken)", {"fields": ["rsa_public_key_pem"]}),
        ("Exchange-specific settings (JSON)", {
            "fields": ["settings"], "classes": ["collapse"],
            "description": "Only for what the fields above do not cover; most credentials keep {} here."}),
    ]
    # Fields only some exchanges use, by what their package calls them (application_form, CREDENTIAL_FIELDS).
    OPTIONAL_FIELDS = {"service_ip_list": ["service_ip_list"], "trading_ip_list": ["trading_ip_list"],
                       "rsa_public_key": ["rsa_public_key_pem", "issued_encrypted_client_secret"],
                       "broker_key": ["broker_key_status", "new_broker_key"]}

    def fields_unused(self, exchange_id: str) -> set[str]:
        """The optional fields this exchange does not use: its credential's page leaves them out."""
        package = exchange_packages().get(exchange_id)
        used = set(getattr(EXCHANGES.get(exchange_id), "application_form", ()))
        used |= set(credential_settings.credential_fields(package.module)) if package else set()
        return {name for group, names in self.OPTIONAL_FIELDS.items() if group not in used for name in names}

    def get_fieldsets(self, request, obj=None):
        # Each exchange's own settings fields, only on that exchange's credentials (all of them when adding one).
        own = [(EXCHANGES[exchange_id].name, {"fields": names}) for exchange_id, names in self.settings_field_names()
               if obj is None or obj.exchange == exchange_id]
        fieldsets = [*self.fieldsets[:-1], *own, self.fieldsets[-1]]
        if obj is not None:
            unused = self.fields_unused(obj.exchange)
            fieldsets = [(title, {**options, "fields": [f for f in options["fields"] if f not in unused]})
                         for title, options in fieldsets]
            fieldsets = [(title, options) for title, options in fieldsets if options["fields"]]
        if request.user.is_superuser:
            return fieldsets
        first, *rest = fieldsets
        return [(None, {"fields": [f for f in first[1]["fields"] if f != "tenant"]}), *rest]

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
        return [path("<int:pk>/application/", self.admin_site.admin_view(self.application_view),
                     name="broker_portal_exchangecredential_application"), *super().get_urls()]

    def application_view(self, request, pk):
        """Everything the exchange's application form asks for, and what is still missing."""
        from connectors.onboarding import application_form

        credential = self.get_object(request, pk)
        if credential is None or not self.has_view_permission(request, credential):
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(pk))
        items = application_form(credential=credential, request=request)
        return render(request, "admin/broker_portal/exchangecredential/application.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "credential": credential,
            "items": items, "missing": [item for item in items if item.missing],
            "title": f"{credential.get_exchange_display()} application form",
        })

    @admin.display(description="Application form")
    def application_link(self, obj):
        url = reverse("admin:broker_portal_exchangecredential_application", args=[obj.pk])
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
            changed_fields=[f for f in form.changed_data if f not in {"new_client_secret", "new_broker_key",
                                                                       "issued_encrypted_client_secret"}],
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


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "action", "actor_repr", "target_repr", "ip_address", "tenant"]
    list_select_related = ["tenant"]
    # By date through the filter's fixed ranges, by action through the search: a date hierarchy, or a filter of
    # the actions, would read the distinct values of every row first.
    list_filter = [("created_at", admin.DateFieldListFilter)]
    search_fields = ["actor_repr", "target_repr", "action"]

    def get_exclude(self, request, obj=None):
        return []
