"""The admin's form for a new batch: its name and one row per payout; the service decides what is valid."""

from django import forms

from connectors.models import ExchangeConnection

from .services import MAX_REFERENCE_LENGTH, PayoutItem


class ConnectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.user.email}: {obj.get_exchange_display()} (#{obj.pk})"


class PayoutBatchForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="What the batch pays, e.g. “March airdrop”.")


class PayoutRowForm(forms.Form):
    connection = ConnectionChoiceField(queryset=ExchangeConnection.objects.none())
    asset = forms.CharField(max_length=16, help_text="e.g. USDT")
    network = forms.CharField(max_length=100, help_text="The exchange's network id, e.g. trx")
    amount = forms.DecimalField(max_digits=38, decimal_places=18, min_value=0)
    reference = forms.CharField(max_length=MAX_REFERENCE_LENGTH, help_text="Your own id; unique per payout.")

    def __init__(self, *args, connections=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = connections

    def item(self) -> PayoutItem:
        data = self.cleaned_data
        return PayoutItem(
            connection_id=data["connection"].pk,
            asset=data["asset"],
            network=data["network"],
            amount=data["amount"],
            reference=data["reference"],
        )


PayoutRowFormSet = forms.formset_factory(PayoutRowForm, extra=3, min_num=1, validate_min=True, max_num=1000)
