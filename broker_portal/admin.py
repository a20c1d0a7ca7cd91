from decimal import Decimal

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.utils.functional import cached_property

from . import services
from .audit import record_audit_event
from .models import AuditEvent, Membership, Tenant, TenantHost, User
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
        return self.object_list.order_by().values("pk")[: self.COUNT_CAP].count()


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
            record_audit_event(
                tenant=tenant,
                action=f"{action}.updated",
                target=obj,
                request=request,
                details={"changed": sorted(changed_fields)},
            )
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
        record_audit_event(
            tenant=self.audit_tenant(request, obj), action=action, target=obj, request=request, details=details
        )


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
        record_audit_event(
            tenant=membership.tenant,
            action="member.updated",
            target=membership,
            request=request,
            details={"changed": sorted(other_fields)},
        )


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
            tenant=request.tenant,
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            role=form.cleaned_data["role"],
            request=request,
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
            services.membership_add(tenant=membership.tenant, user=form.instance, role=membership.role, request=request)


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
