from django import forms
from django.utils import timezone

from broker_portal.models import User

from .models import ExportFormat, ExportJob, HistoryKind
from .services import export_range_errors


class ExportRequestForm(forms.Form):
    scope = forms.ChoiceField(choices=ExportJob.Scope.choices)
    user = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    connection = forms.ModelChoiceField(queryset=None, required=False)
    kinds = forms.MultipleChoiceField(choices=HistoryKind.choices, widget=forms.CheckboxSelectMultiple,
                                      initial=HistoryKind.values)
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
        self.fields["connection"].queryset = connections
        self.fields["connection"].label_from_instance = (
            lambda c: f"{c.get_exchange_display()} — {c.user.email}" if staff else c.get_exchange_display())
        if staff:
            self.fields["user"].queryset = User.objects.filter(memberships__tenant=tenant).order_by("email")
        else:
            # Members export their own history: all of it, or one connection.
            self.fields["scope"].choices = [(ExportJob.Scope.USER, "All my connections"),
                                            (ExportJob.Scope.CONNECTION, "One connection")]
            del self.fields["user"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to"):
            for field, message in export_range_errors(cleaned["date_from"], cleaned["date_to"]).items():
                self.add_error(field, message)
        return cleaned
