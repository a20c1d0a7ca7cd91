"""What an exchange package may say about its credentials' ``settings``, in an optional ``credential`` module:

- ``SETTINGS_FIELDS``: setting key -> form field, shown in the admin's credential form for that exchange only;
- ``settings_fields_errors(values) -> {key: message}``: the rule across those fields (may fill in defaults);
- ``settings_errors(settings) -> [message]``: what in the whole ``settings`` object the connector could not use.
"""

from importlib import import_module
from importlib.util import find_spec


def credential_module(package_module: str):
    """The package's ``credential`` module, or None."""
    name = f"{package_module}.credential"
    return import_module(name) if find_spec(name) else None


def settings_fields(package_module: str) -> dict:
    return dict(getattr(credential_module(package_module), "SETTINGS_FIELDS", {}))


def settings_errors(package_module: str, settings: dict) -> list[str]:
    check = getattr(credential_module(package_module), "settings_errors", None)
    return check(settings) if check else []


def settings_fields_errors(package_module: str, values: dict) -> dict[str, str]:
    check = getattr(credential_module(package_module), "settings_fields_errors", None)
    return check(values) if check else {}
