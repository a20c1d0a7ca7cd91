"""The Kraken settings a broker may keep on its credential.

Kraken's own spot REST spec (krakenfx/api-specs spot-rest, schemas/requests/trading/orders/add.yaml; level A) has no
attribution field on an order: what makes an order the broker's is the Fast API key, which the broker's Kraken
Connect application created (oauth/openapi_v3.yaml). One third-party client sends a ``broker`` parameter on AddOrder
("partner/broker attribution ID"; level C), so it is this setting, empty by default: where the broker has such an
id from Kraken, every order sends it."""

import re

from django import forms

BROKER_ID = re.compile(r"^[!-~]{1,64}$")


def settings_errors(settings: dict) -> list[str]:
    value = settings.get("broker", "")
    if not isinstance(value, str) or (value and not BROKER_ID.match(value)):
        return ["broker is up to 64 visible characters."]
    return []


SETTINGS_FIELDS = {
    "broker": forms.CharField(
        required=False,
        max_length=64,
        label="Kraken broker id",
        help_text="Only where Kraken issued one: sent as every order's broker parameter.",
    ),
}


def settings_fields_errors(values: dict, **context) -> dict[str, str]:
    value = values.get("broker", "")
    return {"broker": "Up to 64 visible characters, without spaces."} if value and not BROKER_ID.match(value) else {}
