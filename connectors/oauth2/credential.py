"""A generic OAuth 2.0 server's settings as the broker admin enters them, and what makes them valid.

The admin enters the issuer and the portal reads its metadata (connectors/oauth2/metadata.py); each endpoint,
the client authentication, PKCE, the scopes and the ``iss`` behaviour can be entered by hand for a server
without metadata, and a hand-entered value wins over the metadata's."""

from urllib.parse import urlsplit

from django import forms

from connectors.base.hosts import check_base_url
from connectors.base.http import HostNotAllowed

from .metadata import (
    ENDPOINTS,
    DiscoveryFailed,
    discover,
    discovery_report,
    issuer_problem,
    missing_endpoints,
    server_settings,
)

CLIENT_AUTH_CHOICES = [
    ("", "As the server's metadata says (HTTP Basic where it takes it)"),
    ("basic", "HTTP Basic (client_secret_basic)"),
    ("body", "In the request body (client_secret_post)"),
]
ISS_PARAMETER_CHOICES = [
    ("", "As the server's metadata says (authorization_response_iss_parameter_supported)"),
    ("yes", "Yes: refuse an authorization response without iss"),
    ("no", "No"),
]


class ScopesField(forms.CharField):
    """Scopes, one per line (or separated by spaces)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        if "\x00" in (value or ""):
            raise forms.ValidationError("Remove the NUL character.", code="null_characters_not_allowed")
        return list(dict.fromkeys((value or "").split()))


def endpoint_field(label: str, help_text: str) -> forms.URLField:
    return forms.URLField(required=False, assume_scheme="https", label=label, help_text=help_text)


# The admin's fields for these settings (connectors/base/credential.py): setting key -> form field.
SETTINGS_FIELDS = {
    "display_name": forms.CharField(
        required=False,
        max_length=60,
        label="Display name",
        help_text="What members see, as in \u201cConnect <name>\u201d; empty: \u201cOAuth 2.0 server\u201d.",
    ),
    "issuer": forms.URLField(
        required=False,
        assume_scheme="https",
        label="Issuer URL",
        help_text="The server's issuer identifier, e.g. https://auth.example.com. On save the portal reads its "
        "metadata (RFC 8414, else OpenID Connect discovery) and fills what is left empty below; "
        "authorization responses must then name this issuer (RFC 9207).",
    ),
    "authorize_url": endpoint_field("Authorization endpoint", "Leave empty to use the metadata's."),
    "token_url": endpoint_field("Token endpoint", "Leave empty to use the metadata's."),
    "revoke_url": endpoint_field(
        "Revocation endpoint (RFC 7009)",
        "Leave empty to use the metadata's; none: tokens are not revoked on disconnect.",
    ),
    "userinfo_url": endpoint_field(
        "Userinfo endpoint",
        "Where the account id (sub) and e-mail are read. Leave empty to use the "
        "metadata's; none: connections have no account id.",
    ),
    "client_auth": forms.ChoiceField(
        required=False,
        choices=CLIENT_AUTH_CHOICES,
        label="Client authentication",
        help_text="How the portal presents the client secret at the token endpoint: the method registered at the "
        "server, one only. A public client sends its client id in the body.",
    ),
    "pkce": forms.BooleanField(
        required=False,
        initial=True,
        label="PKCE (S256)",
        help_text="On unless the server cannot take it; also off where its metadata lists PKCE methods without S256.",
    ),
    "scopes_supported": ScopesField(
        required=False,
        label="Scopes supported",
        help_text="One per line. Leave empty to use the metadata's. Allowed and default permissions must be among "
        "them.",
    ),
    "iss_parameter": forms.ChoiceField(
        required=False,
        choices=ISS_PARAMETER_CHOICES,
        label="Server sends iss in authorization responses",
        help_text="RFC 9207. A response naming another issuer is always refused.",
    ),
}


def settings_fields_errors(
    values: dict, *, extra_hosts=(), settings=None, allowed_permissions=(), default_permissions=(), **context
) -> dict[str, str]:
    """The fields' rules across each other, by setting key (or credential field); reads the issuer's metadata
    into ``values["discovered"]``."""
    errors = {}
    values["pkce"] = values.get("pkce") is not False
    for key in ENDPOINTS:
        if values.get(key):
            try:
                check_base_url(values[key], known_hosts=None, allowed_hosts=extra_hosts)
            except HostNotAllowed as refused:
                errors[key] = str(refused)
    previous = (settings or {}).get("discovered") if isinstance((settings or {}).get("discovered"), dict) else {}
    values["discovered"] = {}
    issuer = values.get("issuer") or ""
    if issuer:
        problem = issuer_problem(issuer)
        if problem:
            errors["issuer"] = problem
        else:
            try:
                values["discovered"] = discover(issuer, extra_hosts=extra_hosts)
            except DiscoveryFailed as failed:
                if previous and (settings or {}).get("issuer") == issuer:
                    values["discovered"] = previous  # unreachable just now: what it said last time stands
                elif missing_endpoints(values):
                    errors["issuer"] = (
                        f"The issuer's metadata could not be read ({failed}). Enter the "
                        f"endpoints by hand for a server without metadata."
                    )
    for key in missing_endpoints(values):
        errors.setdefault(key, f"Enter the {SETTINGS_FIELDS[key].label.lower()}, or an issuer whose metadata names it.")
    supported = server_settings(values)["scopes_supported"]
    if supported:
        unknown = [scope for scope in allowed_permissions if scope not in supported]
        if unknown:
            errors["allowed_permissions"] = f"Not among the scopes the server supports: {', '.join(unknown)}"
    not_allowed = [scope for scope in default_permissions if scope not in allowed_permissions]
    if not_allowed:
        errors["default_permissions"] = f"Defaults must be allowed too: {', '.join(not_allowed)}"
    return errors


def settings_errors(settings: dict) -> list[str]:
    """What in a generic credential's settings the connector could not use."""
    errors = []
    for key in (*ENDPOINTS, "issuer"):
        if not isinstance(settings.get(key, ""), str):
            errors.append(f"{key} is a URL string.")
    if not isinstance(settings.get("display_name", ""), str):
        errors.append("display_name is a string.")
    if settings.get("client_auth", "") not in dict(CLIENT_AUTH_CHOICES):
        errors.append("client_auth is basic or body.")
    if not isinstance(settings.get("pkce", True), bool):
        errors.append("pkce is true or false.")
    if not isinstance(settings.get("scopes_supported", []), list):
        errors.append("scopes_supported is a list.")
    if settings.get("iss_parameter", "") not in dict(ISS_PARAMETER_CHOICES):
        errors.append("iss_parameter is yes or no.")
    if not isinstance(settings.get("discovered", {}), dict):
        errors.append("discovered is an object (what the issuer's metadata said).")
    return errors


def base_urls(settings: dict) -> tuple[str, str]:
    """The credential's base URLs where the admin left them empty: the issuer, else the endpoints' origins."""
    merged = server_settings(settings)

    def origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""

    return (merged["issuer"] or origin(merged["authorize_url"]), merged["issuer"] or origin(merged["token_url"]))


def test_connection(settings: dict, *, extra_hosts=()) -> tuple[dict, str]:
    """Read the issuer's metadata again: the settings with it, and what it found. Raises DiscoveryFailed."""
    issuer = settings.get("issuer") or ""
    if not issuer:
        raise DiscoveryFailed("No issuer URL is set: nothing to read (the endpoints are entered by hand).")
    discovered = discover(issuer, extra_hosts=extra_hosts)
    return {**settings, "discovered": discovered}, discovery_report(discovered)


def app_settings(settings: dict) -> dict:
    """What the flow reads: the hand-entered values, else the metadata's (metadata.server_settings)."""
    return server_settings(settings)
