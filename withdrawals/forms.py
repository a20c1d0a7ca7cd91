"""Input of the wizard's pages. Codes are plain form fields: read once, handed to the service, never saved."""

from django import forms

from .fees import amount_input_error
from .models import Withdrawal


class DetailsForm(forms.Form):
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    currency = forms.ChoiceField()
    chain = forms.CharField(required=False, max_length=32)
    withdraw_type = forms.ChoiceField(choices=Withdrawal.WithdrawType.choices)
    destination = forms.CharField(max_length=255)
    memo = forms.CharField(required=False, max_length=128, label="Memo / tag")
    remark = forms.CharField(required=False, max_length=40)
    amount = forms.CharField(max_length=60)  # parsed as Decimal by the service, never as float
    fee_deduct_type = forms.ChoiceField(choices=Withdrawal.FeeDeductType.choices, widget=forms.RadioSelect)

    def clean_amount(self) -> str:
        raw = self.cleaned_data["amount"].strip()
        error = amount_input_error(raw)
        if error:
            raise forms.ValidationError(error)
        return raw

    def __init__(self, *args, currencies: list[str], hooks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(code, code) for code in currencies]
        self.fields["withdraw_type"].choices = [
            c for c in Withdrawal.WithdrawType.choices if c[0] in hooks.withdraw_types
        ]
        self.fields["fee_deduct_type"].choices = [
            c for c in Withdrawal.FeeDeductType.choices if c[0] in hooks.fee_deduct_types
        ]
        self.fields["fee_deduct_type"].initial = hooks.fee_deduct_types[0]
        self.fields["destination"].label = hooks.destination_label
        if not hooks.has_memo:
            del self.fields["memo"]


class CodesForm(forms.Form):
    """One field per factor the exchange asked for (e.g. GAV = authenticator app, EMV = e-mail code)."""

    def __init__(self, *args, factors: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for factor in factors:
            self.fields[factor] = forms.CharField(
                max_length=16,
                label=FACTOR_LABELS.get(factor, factor),
                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
            )


class StepUpForm(forms.Form):
    """The portal's step-up: the code of the user's authenticator app."""

    code = forms.CharField(
        max_length=16,
        label="Authenticator app code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


FACTOR_LABELS = {
    "GAV": "Authenticator app code (Google Authenticator)",
    "EMV": "E-mail code",
    "SMSV": "SMS code",
    "TPV": "Trading password",
}
