"""OKX's regional hosts. The authorization callback names, in ``domain``, the host that the user's later calls
must use (token exchange, refresh, revocation, Fast API key, signed calls). The value comes from a redirect's
query string, so only a host on the allow-list is taken; anything else refuses the connect."""

from urllib.parse import urlsplit

from connectors.base.http import HostNotAllowed, origin_of

# The OKX hosts its documents name (the authorize page's and the US site's API example); always https.
REGIONAL_HOSTS = ("www.okx.com", "us.okx.com")


def regional_base_urls(app_settings: dict) -> list[str]:
    """Every base URL a connection's calls may go to: the credential's API path on each known OKX host over
    https, and, for a credential on the sandbox or a test server, on that server's own hosts as configured."""
    api_base_url = app_settings["api_base_url"].rstrip("/")
    path = urlsplit(api_base_url).path
    urls = [f"https://{host}{path}" for host in REGIONAL_HOSTS]
    if urlsplit(api_base_url).hostname not in REGIONAL_HOSTS:
        for configured in (api_base_url, app_settings.get("authorize_base_url")):
            if configured:
                scheme, netloc = origin_of(configured)
                urls.append(f"{scheme}://{netloc}{path}")
    return urls


def regional_api_base_url(app_settings: dict, domain: str) -> str:
    """The credential's API base URL on the callback's ``domain`` (a host, or an origin such as
    ``https://us.okx.com``); HostNotAllowed unless that host is on the allow-list."""
    value = (domain or "").strip()
    parts = urlsplit(value if "//" in value else f"//{value}")
    if value and not (parts.path.strip("/") or parts.query or parts.fragment):
        for url in regional_base_urls(app_settings):
            scheme, netloc = origin_of(url)
            if parts.netloc.lower() == netloc and parts.scheme.lower() in ("", scheme):
                return url
    raise HostNotAllowed(f"{value[:100]!r} is not one of OKX's regional hosts.")
