"""The admin's form for a tenant's exchange credential: the lists, hosts and settings it is typed as, each checked
before anything is saved, and the exchange packages' own settings fields."""

import ipaddress
import re

from allauth.socialaccount.providers import registry
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.forms.fields import InvalidJSONInput

from broker_portal import crypto

from . import services
from .base import credential as credential_settings
from .base.hosts import check_base_url
from .base.http import HostNotAllowed
from .exchanges import EXCHANGES, exchange_packages
from .models import ExchangeCredential


class LinesField(forms.CharField):
    """A list edited as one value per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        # PostgreSQL's JSON refuses NUL, so it would fail at save (a 500) rather than here.
        if "\x00" in (value or ""):
            raise ValidationError("Remove the NUL character.", code="null_characters_not_allowed")
        lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
        for line in lines:
            self.validate_line(line)
        return lines

    def validate_line(self, line: str) -> None:
        pass


class RedirectUrisField(LinesField):
    """Absolute http(s) URLs without a fragment (RFC 6749 §3.1.2), compared exactly at the exchange."""

    url = URLValidator(schemes=["http", "https"])

    def validate_line(self, line):
        try:
            self.url(line)
        except ValidationError:
            raise ValidationError(f"Not an http(s) URL: {line[:200]}", code="invalid")
        if "#" in line:
            raise ValidationError(f"A redirect URI has no fragment: {line[:200]}", code="invalid")


class IpListField(LinesField):
    def validate_line(self, line):
        try:
            ipaddress.ip_network(line, strict=False)
        except ValueError:
            raise ValidationError(f"Not an IP address or network: {line[:100]}", code="invalid")


HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class HostsField(LinesField):
    """Bare host names or IP addresses, lower case: no scheme, port or path."""

    def to_python(self, value):
        return [line.lower() for line in super().to_python(value)]

    def validate_line(self, line):
        try:
            ipaddress.ip_address(line.strip("[]"))
            return
        except ValueError:
            pass
        if not HOST_NAME.match(line.lower()):
            raise ValidationError(f"Not a host name (no scheme, port or path): {line[:100]}", code="invalid")


# What the OAuth flow reads from the credential's own fields; settings may not replace them (app_from_credential).
RESERVED_SETTINGS = (
    "client_type",
    "authorize_base_url",
    "api_base_url",
    "redirect_uris",
    "allowed_permissions",
    "default_permissions",
    "credential_id",
    "call_hosts",
    "server_slug",
)
SETTINGS_MAX_DEPTH = 3


def json_depth(value) -> int:
    """Levels of objects and lists, counted without recursion (a value may be nested hundreds deep)."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def json_has_nul(value) -> bool:
    # Called after the depth check, so the recursion stays shallow.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(json_has_nul(key) or json_has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(map(json_has_nul, value))
    return False


class SettingsField(forms.JSONField):
    """A JSON object of a few levels: connect spreads it into the OAuth app's settings."""

    def __init__(self, **kwargs):
        # Not "required": that would refuse {} as empty; validate() refuses a missing value instead.
        kwargs["required"] = False
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            # json.loads gives up on deep nesting with RecursionError, not with the JSONDecodeError Django catches.
            raise ValidationError("Nested too deeply.", code="invalid")

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:  # redisplaying the refused input as it was typed
            return InvalidJSONInput(data)

    def validate(self, value):
        if value is None:
            raise ValidationError("Enter a JSON object; {} for none.", code="required")
        super().validate(value)
        if not isinstance(value, dict):
            raise ValidationError("Enter a JSON object ({...}), not a list, string or number.", code="invalid")
        if json_depth(value) > SETTINGS_MAX_DEPTH:
            raise ValidationError(f"At most {SETTINGS_MAX_DEPTH} levels of nesting.", code="invalid")
        if json_has_nul(value):
            raise ValidationError("Remove the NUL character.", code="null_characters_not_allowed")
        reserved = sorted(set(value) & set(RESERVED_SETTINGS))
        if reserved:
            raise ValidationError(f"Set these in their own fields: {', '.join(reserved)}", code="invalid")


def exchange_settings_errors(exchange_id: str, settings: dict) -> list[str]:
    """The exchange package's own rules for its settings (``credential.settings_errors``), where it has any."""
    package = exchange_packages().get(exchange_id)
    return credential_settings.settings_errors(package.module, settings) if package else []


def exchange_settings_fields() -> dict[str, tuple[str, str, forms.Field]]:
    """Every exchange package's admin fields for its settings, as form field name -> (exchange, key, field)."""
    return {
        f"{exchange_id}_{key}": (exchange_id, key, field)
        for exchange_id, package in exchange_packages().items()
        for key, field in credential_settings.settings_fields(package.module).items()
    }


def settings_field_value(value):
    """An exchange's settings field as stored: text stripped, other values (a flag, a list) as they are."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def masked(value: str) -> str:
    return "•••••••• (set)" if value else "(not set)"


class ExchangeCredentialForm(forms.ModelForm):
    redirect_uris = RedirectUrisField(required=False, help_text="Exactly as registered at the exchange, one per line.")
    allowed_permissions = LinesField(required=False, help_text="Permissions users may grant, one per line.")
    default_permissions = LinesField(required=False, help_text="Preselected permissions, one per line.")
    service_ip_list = IpListField(required=False, help_text="IPs the portal calls the exchange from, one per line.")
    trading_ip_list = IpListField(required=False, help_text="IPs that trade with users' keys, one per line.")
    extra_hosts = HostsField(
        required=False,
        label="Extra hosts allowed (superusers only)",
        help_text="Hosts besides the exchange's own that production may call for this "
        "credential (a staging exchange, the broker's own OAuth 2.0 server), one per "
        "line. Private addresses are allowed here and nowhere else.",
    )
    settings = SettingsField(help_text="A JSON object of exchange-specific settings; {} for none.")
    new_client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="New client secret",
        help_text="Leave empty to keep the current secret. It is stored encrypted and never shown again.",
    )
    issued_encrypted_client_secret = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Encrypted client secret from Kraken",
        help_text="Paste the base64, RSA-encrypted secret Kraken sent; the portal decrypts it with its private key.",
    )
    new_broker_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="New broker key",
        help_text="Broker attribution key (e.g. KuCoin partner key). Leave empty to keep the current one.",
    )

    # Each exchange package's fields for its settings (e.g. KuCoin's attribution), added below the class.
    SETTINGS_FIELDS: dict = {}

    class Meta:
        model = ExchangeCredential
        # Every field but the secrets, which are only ever replaced through their own write-only fields below.
        exclude = ["client_secret", "broker_key", "rsa_private_key", "rsa_public_key"]  # noqa: DJ006

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("authorize_base_url", "api_base_url"):
            if name in self.fields:  # fill_base_urls requires them where the exchange cannot derive them
                self.fields[name].required = False
        for name, (exchange_id, key, _) in self.SETTINGS_FIELDS.items():
            if self.instance.exchange == exchange_id and key in (self.instance.settings or {}):
                self.fields[name].initial = self.instance.settings[key]

    def clean_exchange_settings_fields(self, cleaned, exchange_id: str) -> None:
        """The exchange's own fields go into its settings, checked by its package's rule."""
        names = {key: name for name, (owner, key, _) in self.SETTINGS_FIELDS.items() if owner == exchange_id}
        if not names:
            return
        values = {key: settings_field_value(cleaned.get(name)) for key, name in names.items()}
        package = exchange_packages()[exchange_id]
        context = {
            "extra_hosts": cleaned.get("extra_hosts", self.instance.extra_hosts) or [],
            "allowed_permissions": cleaned.get("allowed_permissions") or [],
            "default_permissions": cleaned.get("default_permissions") or [],
            "settings": cleaned.get("settings") or {},
        }
        for key, message in credential_settings.settings_fields_errors(package.module, values, **context).items():
            # A rule may name one of the credential's own fields (its permissions) besides its settings' fields.
            self.add_error(names.get(key) or (key if key in self.fields else None), message)
        cleaned["settings"] = {**(cleaned.get("settings") or {}), **values}

    def fill_base_urls(self, cleaned, exchange) -> None:
        """Base URLs left empty come from the exchange's settings where its package derives them (the generic
        provider: its issuer); otherwise they are required."""
        if exchange is None:
            return
        derived = credential_settings.base_urls(exchange_packages()[exchange.id].module, cleaned.get("settings") or {})
        for name, default in zip(("authorize_base_url", "api_base_url"), derived, strict=False):
            if not cleaned.get(name) and name not in self.errors:
                if default:
                    cleaned[name] = default
                    setattr(self.instance, name, default)
                else:
                    self.add_error(name, forms.Field.default_error_messages["required"])

    def clean_base_urls(self, cleaned, exchange) -> None:
        """Production calls only the exchange's known hosts (the generic provider: public ones), see
        connectors/base/hosts.py; an extra host is one a superuser allowed on this credential (``extra_hosts``) or
        the deployment's EXCHANGE_ALLOWED_EXTRA_HOSTS."""
        allowed = cleaned.get("extra_hosts", self.instance.extra_hosts) or []
        for name in ("authorize_base_url", "api_base_url"):
            try:
                check_base_url(
                    cleaned.get(name) or "",
                    known_hosts=exchange.known_hosts if exchange else None,
                    allowed_hosts=allowed,
                )
            except HostNotAllowed as refused:
                self.add_error(name, str(refused))

    def clean(self):
        cleaned = super().clean()
        if "settings" in cleaned:
            self.clean_exchange_settings_fields(cleaned, cleaned.get("exchange") or self.instance.exchange)
        if "settings" in cleaned:
            for message in exchange_settings_errors(
                cleaned.get("exchange") or self.instance.exchange, cleaned["settings"]
            ):
                self.add_error("settings", message)
        exchange = EXCHANGES.get(cleaned.get("exchange") or getattr(self.instance, "exchange", ""))
        if exchange is not None and exchange.permissions:
            for name in ("allowed_permissions", "default_permissions"):
                unknown = sorted(set(cleaned.get(name) or []) - set(exchange.permission_codes))
                if unknown:
                    self.add_error(name, f"Not a {exchange.name} permission: {', '.join(unknown)}")
            not_allowed = sorted(
                set(cleaned.get("default_permissions") or []) - set(cleaned.get("allowed_permissions") or [])
            )
            if not_allowed and not self.errors.get("default_permissions"):
                self.add_error("default_permissions", f"Defaults must be allowed too: {', '.join(not_allowed)}")
        self.fill_base_urls(cleaned, exchange)
        self.clean_base_urls(cleaned, exchange)
        provider_class = registry.get_class(exchange.id) if exchange is not None else None
        if cleaned.get("server_slug") and not getattr(provider_class, "several_servers", False):
            self.add_error("server_slug", "This exchange has one server per tenant: leave the slug empty.")
        if getattr(provider_class, "confidential_clients_only", False) and cleaned.get("client_type") == "public":
            self.add_error(
                "client_type",
                f"{exchange.name} takes only confidential clients (authorization code with the client secret).",
            )
        encrypted = (cleaned.get("issued_encrypted_client_secret") or "").strip()
        if encrypted:
            try:
                cleaned["new_client_secret"] = services.credential_decrypt_issued_secret(
                    credential=self.instance, encrypted_b64=encrypted
                )
            except crypto.SecretDecryptionError as error:
                self.add_error("issued_encrypted_client_secret", str(error))
        return cleaned


ExchangeCredentialForm.SETTINGS_FIELDS = exchange_settings_fields()
ExchangeCredentialForm.base_fields.update(
    {name: field for name, (_, _, field) in ExchangeCredentialForm.SETTINGS_FIELDS.items()}
)
ExchangeCredentialForm.declared_fields.update(
    {name: field for name, (_, _, field) in ExchangeCredentialForm.SETTINGS_FIELDS.items()}
)
