"""What an exchange package may say about its credentials' ``settings``, in an optional ``credential`` module:

- ``SETTINGS_FIELDS``: setting key -> form field, shown in the admin's credential form for that exchange only;
- ``settings_fields_errors(values, **context) -> {key: message}``: the rule across those fields (may fill in
  defaults); ``context``: the credential's ``extra_hosts``, ``allowed_permissions``, ``default_permissions`` and
  its ``settings`` as stored; a key may also name one of those credential fields;
- ``settings_errors(settings) -> [message]``: what in the whole ``settings`` object the connector could not use;
- ``base_urls(settings) -> (authorize_base_url, api_base_url)``: the base URLs where the admin left them empty;
- ``test_connection(settings, *, extra_hosts) -> (settings, report)``: the admin's "Test connection" action;
- ``app_settings(settings) -> dict``: what the OAuth flow reads, derived from the stored settings (the generic
  provider's hand-entered values over its server's metadata);
- ``CREDENTIAL_FIELDS``: the credential's optional fields this exchange uses besides those its application form
  names (``EXCHANGE.application_form``), e.g. KuCoin's ``broker_key``; the admin shows no other exchange's.
"""

from functools import cache
from importlib import import_module
from importlib.util import find_spec


class ConnectionTestFailed(Exception):
    """``test_connection`` could not reach or read the exchange's server; the message says why."""


@cache
def credential_module(package_module: str):
    """The package's ``credential`` module, or None."""
    name = f"{package_module}.credential"
    return import_module(name) if find_spec(name) else None


def settings_fields(package_module: str) -> dict:
    return dict(getattr(credential_module(package_module), "SETTINGS_FIELDS", {}))


def credential_fields(package_module: str) -> tuple[str, ...]:
    return tuple(getattr(credential_module(package_module), "CREDENTIAL_FIELDS", ()))


def settings_errors(package_module: str, settings: dict) -> list[str]:
    check = getattr(credential_module(package_module), "settings_errors", None)
    return check(settings) if check else []


def settings_fields_errors(package_module: str, values: dict, **context) -> dict[str, str]:
    check = getattr(credential_module(package_module), "settings_fields_errors", None)
    return check(values, **context) if check else {}


def base_urls(package_module: str, settings: dict) -> tuple[str, str]:
    derive = getattr(credential_module(package_module), "base_urls", None)
    return derive(settings) if derive else ("", "")


def connection_test(package_module: str):
    """The package's ``test_connection``, or None where it has none."""
    return getattr(credential_module(package_module), "test_connection", None)


def app_settings(package_module: str, settings: dict) -> dict:
    derive = getattr(credential_module(package_module), "app_settings", None)
    return {**settings, **derive(settings)} if derive else settings
