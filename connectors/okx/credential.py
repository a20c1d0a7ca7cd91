"""The OKX settings a broker keeps on its credential: the broker code OKX issued, sent in every order's ``tag``.

OKX's API docs (docs-v5 "Place order", and okxapi/python-okx okx/Trade.py place_order; level A): ``tag`` is "a
combination of case-sensitive alphanumerics, all numbers, or all letters of up to 16 characters"; the broker's code
there attributes the order to the broker (EVIDENCE.md, okx/builder-integration-demo)."""

import re

from django import forms

BROKER_CODE = re.compile(r"^[A-Za-z0-9]{1,16}$")


def settings_errors(settings: dict) -> list[str]:
    code = settings.get("broker_code", "")
    if not isinstance(code, str) or (code and not BROKER_CODE.match(code)):
        return ["broker_code is up to 16 letters and digits (OKX's tag)."]
    return []


SETTINGS_FIELDS = {
    "broker_code": forms.CharField(
        required=False,
        max_length=16,
        label="OKX broker code",
        help_text="Sent as every order's tag, and at the start of its client order id.",
    ),
}


def settings_fields_errors(values: dict, **context) -> dict[str, str]:
    code = values.get("broker_code", "")
    if code and not BROKER_CODE.match(code):
        return {"broker_code": "Up to 16 letters and digits, as OKX issued it."}
    return {}
