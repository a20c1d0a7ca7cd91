"""The KuCoin settings a broker keeps on its credential, and what makes them valid.

KuCoin issues a broker three attribution values (KuCoin's broker docs and SDKs, level A): the partner id
(KC-API-PARTNER), the broker name (KC-BROKER-NAME, a value of its own, never the partner id) and the broker key
that signs KC-API-PARTNER-SIGN (stored encrypted as the credential's broker_key). Which key-creation path a
partner has is KuCoin's decision per partner (Fast API document section 4, level B)."""

import re

from django import forms

KEY_CREATION_CHOICES = [
    ("v2", "FastAPI 2.0: the groups the user chose (cyber-truck-vault/v2)"),
    ("v1", "Old partners: KuCoin's default groups (ucenter)"),
]
# Sent as an HTTP header value: visible ASCII, no spaces.
HEADER_VALUE = re.compile(r"^[!-~]{1,100}$")


def attribution_errors(*, partner: str, broker_name: str) -> dict[str, str]:
    """Why the partner id and broker name cannot be used together ({} when they can): both or neither, each a
    header value, and the broker name distinct from the partner id."""
    errors = {}
    if partner and not broker_name:
        errors["broker_name"] = "KuCoin issues a broker name with the partner id; enter it too."
    if broker_name and not partner:
        errors["partner"] = "Enter the partner id KuCoin issued with this broker name."
    for name, value in (("partner", partner), ("broker_name", broker_name)):
        if value and not HEADER_VALUE.match(value):
            errors.setdefault(name, "Use at most 100 visible characters, without spaces.")
    if partner and broker_name == partner:
        errors["broker_name"] = "The broker name is its own value from KuCoin, not the partner id."
    return errors


def settings_errors(settings: dict) -> list[str]:
    """What in a KuCoin credential's settings the connector could not use."""
    errors = []
    if settings.get("key_creation", "v2") not in dict(KEY_CREATION_CHOICES):
        errors.append(f"key_creation is one of: {', '.join(dict(KEY_CREATION_CHOICES))}.")
    for name in ("partner", "broker_name", "refresh_grant_type"):
        if not isinstance(settings.get(name, ""), str):
            errors.append(f"{name} is a string.")
    if not isinstance(settings.get("token_sends_client_secret", False), bool):
        errors.append("token_sends_client_secret is true or false.")
    return errors


# The broker key signs KC-API-PARTNER-SIGN (above); no other exchange has one.
CREDENTIAL_FIELDS = ("broker_key",)

# The admin's fields for these settings (connectors/base/credential.py): setting key -> form field.
SETTINGS_FIELDS = {
    "partner": forms.CharField(required=False, label="KuCoin partner id", help_text="KC-API-PARTNER."),
    "broker_name": forms.CharField(
        required=False,
        label="KuCoin broker name",
        help_text="KC-BROKER-NAME: the broker name KuCoin issued, a value of its own (not the partner id).",
    ),
    "key_creation": forms.ChoiceField(
        required=False,
        choices=KEY_CREATION_CHOICES,
        initial="v2",
        label="KuCoin key creation",
        help_text="Which Fast API key path KuCoin gave this partner.",
    ),
}


def settings_fields_errors(values: dict, **context) -> dict[str, str]:
    """The admin fields' rule across each other, by setting key; fills in the key-creation default."""
    values["key_creation"] = values.get("key_creation") or "v2"
    return attribution_errors(partner=values.get("partner", ""), broker_name=values.get("broker_name", ""))
