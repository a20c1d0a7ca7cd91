import re

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from broker_portal.models import User

from .models import ExportFormat, ExportJob, HistoryKind
from .services.jobs import export_range_errors


def connection_label(connection, *, staff: bool) -> str:
    """How a connection is named in its picker: ``#<id>`` first, which is what the field reads back."""
    name = connection.get_exchange_display()
    return f"#{connection.pk} {name} — {connection.user.email}" if staff else name


def picker_widget(kind: str, placeholder: str) -> forms.TextInput:
    """A text field that suggests matches as one types (static/js/portal.js fills its datalist from the
    picker's JSON, a page at a time): a tenant's users and connections are searched, never all listed."""
    return forms.TextInput(
        attrs={
            "list": f"picker-{kind}",
            "data-picker": reverse("exports:picker", args=[kind]),
            "autocomplete": "off",
            "placeholder": placeholder,
        }
    )


class UserPickerField(forms.ModelChoiceField):
    """A user of the tenant, typed or picked by email."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        found = self.queryset.filter(email__iexact=str(value).strip()).first()
        if found is None:
            raise ValidationError("No user of this broker has this email.", code="invalid_choice")
        return found

    def prepare_value(self, value):
        return value.email if hasattr(value, "email") else value


class ConnectionPickerField(forms.ModelChoiceField):
    """A connection, picked from the suggestions (or typed as ``#<id>``, the id the synced history shows)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        match = re.match(r"\s*#?(\d+)\b", str(value))
        found = self.queryset.filter(pk=int(match.group(1))).first() if match else None
        if found is None:
            raise ValidationError("Pick a connection from the suggestions (or type its #id).", code="invalid_choice")
        return found

    def prepare_value(self, value):
        return connection_label(value, staff=True) if hasattr(value, "pk") else value


class ExportRequestForm(forms.Form):
    scope = forms.ChoiceField(choices=ExportJob.Scope.choices)
    user = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    connection = forms.ModelChoiceField(queryset=None, required=False)
    kinds = forms.MultipleChoiceField(
        choices=HistoryKind.choices, widget=forms.CheckboxSelectMultiple, initial=HistoryKind.values
    )
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.KOINLY)
    date_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    # Shown once the portal warned that no synced row falls in the request.
    allow_empty = forms.BooleanField(required=False, label="Export anyway: the file will hold its header only")

    def __init__(self, *args, tenant, connections, staff: bool, synced_since=None, **kwargs):
        today = timezone.now().date()
        # This year, or from the oldest synced row if that is earlier: the default never misses the synced history.
        start = today.replace(month=1, day=1)
        if synced_since is not None:
            start = min(start, synced_since.date())
        kwargs.setdefault("initial", {"date_from": start, "date_to": today})
        super().__init__(*args, **kwargs)
        if self.is_bound:
            # Only the chosen scope's picker counts: what was typed into the other one is no error.
            self.data = self.data.copy()
            for field, scope in (("user", ExportJob.Scope.USER), ("connection", ExportJob.Scope.CONNECTION)):
                if self.data.get("scope") != scope:
                    self.data[field] = ""
        if staff:
            # A tenant may have 50,000 connections and 10,000 users: searched by the pickers, not rendered.
            self.fields["connection"] = ConnectionPickerField(
                queryset=connections, required=False, widget=picker_widget("connections", "Email or #id")
            )
            self.fields["user"] = UserPickerField(
                queryset=User.objects.filter(memberships__tenant=tenant),
                required=False,
                widget=picker_widget("users", "Email"),
            )
        else:
            self.fields["connection"].queryset = connections
            self.fields["connection"].label_from_instance = lambda c: c.get_exchange_display()
            # Members export their own history: all of it, or one connection.
            self.fields["scope"].choices = [
                (ExportJob.Scope.USER, "All my connections"),
                (ExportJob.Scope.CONNECTION, "One connection"),
            ]
            del self.fields["user"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to"):
            for field, message in export_range_errors(cleaned["date_from"], cleaned["date_to"]).items():
                self.add_error(field, message)
        return cleaned
