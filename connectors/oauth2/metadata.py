"""What a generic OAuth 2.0 server is: its metadata read from the issuer (RFC 8414, else OpenID Connect
discovery), and the settings the flow uses, where the broker admin's hand-entered values win over the metadata.

A credential's ``settings`` keep both apart: the named fields (``issuer``, ``authorize_url``, ``token_url``,
``revoke_url``, ``userinfo_url``, ``client_auth``, ``pkce``, ``scopes_supported``, ``iss_parameter``) as the admin
entered them, and ``discovered``, what the last discovery found. ``server_settings`` merges them."""

from urllib.parse import urlsplit

from connectors.base.credential import ConnectionTestFailed
from connectors.base.hosts import check_base_url, hosts_for_calls
from connectors.base.http import ExchangeUnavailable, HostNotAllowed, exchange_session

RFC8414_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
ENDPOINTS = {  # setting key -> metadata field
    "authorize_url": "authorization_endpoint",
    "token_url": "token_endpoint",
    "revoke_url": "revocation_endpoint",
    "userinfo_url": "userinfo_endpoint",
}
LISTS = ("scopes_supported", "code_challenge_methods_supported", "token_endpoint_auth_methods_supported")
# RFC 8414 §2: a token endpoint that lists no methods takes client_secret_basic.
DEFAULT_AUTH_METHODS = ["client_secret_basic"]


class DiscoveryFailed(ConnectionTestFailed):
    """The issuer's metadata could not be read or does not describe that issuer; the message says why."""


def metadata_urls(issuer: str) -> list[str]:
    """Where the metadata of ``issuer`` lives: RFC 8414 §3.1 puts the well-known segment between the host and
    the issuer's path; OpenID Connect Discovery 1.0 §4 appends its own to the issuer."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return [f"{parts.scheme}://{parts.netloc}{RFC8414_WELL_KNOWN}{path}", f"{issuer.rstrip('/')}{OIDC_WELL_KNOWN}"]


def issuer_problem(issuer: str) -> str:
    """Why ``issuer`` cannot be an issuer identifier (RFC 8414 §2: a URL with no query or fragment), "" if it can."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "The issuer is a URL such as https://auth.example.com."
    if parts.query or parts.fragment:
        return "The issuer URL has no query or fragment (RFC 8414 §2)."
    return ""


def discover(issuer: str, *, extra_hosts=()) -> dict:
    """The issuer's metadata, as the ``discovered`` settings: RFC 8414 first, OpenID Connect discovery filling
    what it leaves out (the userinfo endpoint). Each document must name exactly this issuer (RFC 8414 §3.3,
    OpenID Connect Discovery §4.3), or it is refused: a server may not describe another. Raises DiscoveryFailed."""
    problem = issuer_problem(issuer)
    if problem:
        raise DiscoveryFailed(problem)
    try:
        check_base_url(issuer, known_hosts=None, allowed_hosts=extra_hosts)
    except HostNotAllowed as refused:
        raise DiscoveryFailed(str(refused))
    documents, notes = [], []
    for url in metadata_urls(issuer):
        try:
            document = fetch_document(url, issuer, extra_hosts=extra_hosts)
        except DiscoveryFailed as failed:
            notes.append(str(failed))
            continue
        if document is not None:
            documents.append((url, document))
    if not documents:
        raise DiscoveryFailed(" ".join(notes) or f"No metadata at {' or '.join(metadata_urls(issuer))}.")
    return discovered_settings(documents, extra_hosts=extra_hosts)


def fetch_document(url: str, issuer: str, *, extra_hosts) -> dict | None:
    """One metadata document, None where the server has none there (404)."""
    hosts = hosts_for_calls("oauth2", extra_hosts)
    try:
        with exchange_session(allowed_base_urls=[url], hosts=hosts) as session:
            response = session.get(url, headers={"Accept": "application/json"})
    except (ExchangeUnavailable, HostNotAllowed) as error:
        raise DiscoveryFailed(f"{url}: {error}")
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise DiscoveryFailed(f"{url} answered HTTP {response.status_code}.")
    try:
        document = response.json()
    except ValueError:
        raise DiscoveryFailed(f"{url} did not answer JSON.")
    if not isinstance(document, dict):
        raise DiscoveryFailed(f"{url} did not answer a JSON object.")
    if document.get("issuer") != issuer:
        raise DiscoveryFailed(
            f"{url} describes the issuer {str(document.get('issuer'))[:200]!r}, not {issuer!r} "
            f"(RFC 8414 §3.3): refused."
        )
    return document


def discovered_settings(documents: list[tuple[str, dict]], *, extra_hosts=()) -> dict:
    """The settings the documents give, the first document's values before the later ones'; a value of the
    wrong kind, or an endpoint production may not call, is left out."""
    found: dict = {"metadata_urls": [url for url, _ in documents]}
    for key, field in ENDPOINTS.items():
        for _, document in documents:
            value = document.get(field)
            if isinstance(value, str) and value and key not in found:
                try:
                    check_base_url(value, known_hosts=None, allowed_hosts=extra_hosts)
                except HostNotAllowed:
                    continue
                found[key] = value
    for key in LISTS:
        for _, document in documents:
            value = document.get(key)
            if key not in found and isinstance(value, list) and all(isinstance(item, str) for item in value):
                found[key] = value
    found["iss_parameter_supported"] = any(
        document.get("authorization_response_iss_parameter_supported") is True for _, document in documents
    )
    return found


def client_auth_from(methods: list[str] | None) -> str:
    """One client authentication method from the server's list: Basic where it takes it (RFC 6749 §2.3.1's
    preference), else the form body."""
    methods = methods if methods is not None else DEFAULT_AUTH_METHODS
    if "client_secret_basic" in methods or "client_secret_post" not in methods:
        return "basic"
    return "body"


def pkce_possible(methods: list[str] | None) -> bool:
    """S256 (RFC 7636) unless the server's metadata lists its methods without it. A server that does not
    implement PKCE ignores the parameters (RFC 6749 §3.1: unknown parameters are ignored), so a metadata
    document that says nothing leaves PKCE on."""
    return methods is None or "S256" in methods


def server_settings(settings: dict) -> dict:
    """The settings the flow reads, each hand-entered value before the discovered one."""
    discovered = settings.get("discovered") if isinstance(settings.get("discovered"), dict) else {}
    merged = {key: settings.get(key) or discovered.get(key) or "" for key in ENDPOINTS}
    merged["scopes_supported"] = list(settings.get("scopes_supported") or discovered.get("scopes_supported") or [])
    merged["client_auth"] = settings.get("client_auth") or client_auth_from(
        discovered.get("token_endpoint_auth_methods_supported")
    )
    merged["pkce"] = settings.get("pkce", True) is not False and pkce_possible(
        discovered.get("code_challenge_methods_supported")
    )
    iss_parameter = settings.get("iss_parameter") or ""
    merged["authorization_response_iss_parameter_supported"] = (
        iss_parameter == "yes" if iss_parameter else bool(discovered.get("iss_parameter_supported"))
    )
    merged["issuer"] = settings.get("issuer") or ""
    return merged


def missing_endpoints(settings: dict) -> list[str]:
    """The endpoints a connect flow needs and these settings do not give."""
    merged = server_settings(settings)
    return [name for name in ("authorize_url", "token_url") if not merged[name]]


def discovery_report(discovered: dict) -> str:
    """What a discovery found, in one line for the broker admin."""
    endpoints = ", ".join(f"{key.removesuffix('_url')} {discovered[key]}" for key in ENDPOINTS if discovered.get(key))
    parts = [
        f"Read {' and '.join(discovered.get('metadata_urls', []))}",
        f"endpoints: {endpoints or 'none'}",
        f"scopes: {', '.join(discovered.get('scopes_supported') or []) or 'not listed'}",
        f"PKCE methods: {', '.join(discovered.get('code_challenge_methods_supported') or []) or 'not listed'}",
        f"client authentication: "
        f"{', '.join(discovered.get('token_endpoint_auth_methods_supported') or []) or 'not listed'}",
        f"iss in authorization responses: {'yes' if discovered.get('iss_parameter_supported') else 'no'}",
    ]
    return "; ".join(parts) + "."
