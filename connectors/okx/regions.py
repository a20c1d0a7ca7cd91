"""OKX's sites. The authorization callback names, in ``domain``, the OKX site the user belongs to; the user's later
calls (token exchange, Fast API key, signed calls) go to that site. The value comes from a redirect's query string,
so only a host on the list of genuine OKX sites is taken; anything else refuses the connect."""

from urllib.parse import urlsplit

from connectors.base.http import HostNotAllowed, origin_of

# Every genuine OKX site a callback may name, always over https. Sources:
# - okx/builder-integration-demo, demos/third-party-fastapi/INTEGRATION_GUIDE.md: "domain=https://www.okx.com";
#   PITFALLS.md: 53018 "Site authorization is missing for my.okx.com".
# - okx/agent-trade-kit, packages/core/src/constants.ts (OKX_SITES): global www.okx.com, EEA eea.okx.com (API)
#   and my.okx.com (web), US app.okx.com.
# - OKX's OAuth document (exchange-docs/okx-connect-oauth.txt): its example calls https://us.okx.com.
OKX_SITES = {
    "www.okx.com": "Global",
    "eea.okx.com": "EEA",
    "my.okx.com": "EEA",
    "us.okx.com": "US",
    "app.okx.com": "US",
}
REGIONAL_HOSTS = tuple(OKX_SITES)


def regional_base_urls(app_settings: dict) -> list[str]:
    """Every base URL a connection's calls may go to: the credential's API path on each OKX site over https, and,
    for a credential on the sandbox or a test server, on that server's own hosts as configured."""
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
    ``https://us.okx.com``); HostNotAllowed unless that host is one of OKX's sites."""
    value = (domain or "").strip()
    parts = urlsplit(value if "//" in value else f"//{value}")
    if value and not (parts.path.strip("/") or parts.query or parts.fragment):
        for url in regional_base_urls(app_settings):
            scheme, netloc = origin_of(url)
            if parts.netloc.lower() == netloc and parts.scheme.lower() in ("", scheme):
                return url
    raise HostNotAllowed(f"{value[:100]!r} is not one of OKX's sites.")
