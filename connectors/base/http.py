"""One way to make HTTP calls to an exchange: a timeout on every call, no redirects, only configured hosts."""

import os
import threading
import time
from contextlib import contextmanager
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
from django.conf import settings

from broker_portal.errors import PortalError
from broker_portal.public_addresses import HostNotAllowed, PublicAddressAdapter

SAFE_METHODS = {"GET", "HEAD"}
READ_ATTEMPTS = 2
READ_RETRY_DELAY = 0.2  # seconds, times the attempt number


class ExchangeUnavailable(PortalError):
    """The exchange timed out, refused the connection, cut its answer off or answered 5xx/429; nothing was changed
    here."""

    error_code, http_status = "exchange_unavailable", 503

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeSession(requests.Session):
    def __init__(self, allowed_base_urls: list[str], timeout, hosts: dict | None = None):
        super().__init__()
        self.hosts = hosts  # the calling credential's host policy (hosts.hosts_for_calls), checked on every call
        # The environment (proxies, NO_PROXY, CA bundle) is read once here rather than on every call, as
        # requests otherwise does at a cost close to a database round trip; ~/.netrc never lends credentials.
        self.trust_env = False
        self.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        # The only origins calls may go to, each with the proxies the environment sets for it.
        self.allowed_origins = {origin_of(url): requests.utils.get_environ_proxies(url) for url in allowed_base_urls}
        self.timeout = timeout
        # Credentials must never follow a redirect to another host; exchanges' APIs do not redirect.
        self.max_redirects = 0
        # The session is shared by every connection of a tenant's exchange: it must remember nothing, cookies included.
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.mount_public_address_adapters()

    def mount_public_address_adapters(self) -> None:
        """In production, each direct https origin connects only to an address checked public as it connects
        (through a proxy, the proxy resolves; a host allowed by name may be private)."""
        from .hosts import enforced, pinned_hosts_exempt

        if not enforced():
            return
        exempt = pinned_hosts_exempt(self.hosts)
        for (scheme, netloc), proxies in self.allowed_origins.items():
            if scheme == "https" and not proxies and urlsplit(f"//{netloc}").hostname not in exempt:
                self.mount(f"https://{netloc}/", PublicAddressAdapter())

    def request(self, method, url, *, retry: bool = True, **kwargs):
        """``retry=False``: a read that spends something (KuCoin's code exchange is a GET) is sent once."""
        origin = origin_of(url)
        if origin not in self.allowed_origins:
            raise HostNotAllowed(f"{origin} is not a configured exchange host.")
        from .hosts import check_call_url

        # Again at call time: a base URL stored before the policy, or edited around the admin form, is refused too.
        check_call_url(url, self.hosts)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("proxies", self.allowed_origins[origin])
        kwargs["allow_redirects"] = False
        # Only reads are retried: repeating a POST could place an order or a withdrawal twice.
        attempts = READ_ATTEMPTS if retry and method.upper() in SAFE_METHODS else 1
        for attempt in range(1, attempts + 1):
            try:
                return self.send_once(method, url, **kwargs)
            except ExchangeUnavailable as error:
                if attempt == attempts or error.retry_after is not None:
                    raise
                time.sleep(READ_RETRY_DELAY * attempt)

    def send_once(self, method, url, **kwargs):
        try:
            response = super().request(method, url, **kwargs)
        except requests.Timeout:
            raise ExchangeUnavailable("The exchange did not answer in time.")
        except requests.ConnectionError:
            raise ExchangeUnavailable("The exchange could not be reached.")
        except requests.RequestException as error:
            # Anything else on the way (an answer cut off mid-body, undecodable content, a broken redirect): no
            # usable answer came back, which callers treat as they treat an exchange that did not answer.
            raise ExchangeUnavailable(f"The exchange's answer could not be read ({type(error).__name__}).")
        if response.status_code == 429:
            raise ExchangeUnavailable("The exchange asks us to slow down.", retry_after=retry_after(response) or 1.0)
        if response.status_code >= 500:
            raise ExchangeUnavailable(f"The exchange answered with an error ({response.status_code}).")
        return response


def origin_of(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def retry_after(response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def production_hosts_enforced() -> bool:
    from .hosts import enforced

    return enforced()


def hosts_key(hosts: dict | None):
    return None if hosts is None else tuple((name, tuple(sorted(values))) for name, values in sorted(hosts.items()))


# One session per thread and set of hosts, so calls to an exchange reuse their keep-alive connections.
_sessions = threading.local()
MAX_POOLED_SESSIONS = 64


@contextmanager
def exchange_session(*, allowed_base_urls: list[str], timeout=None, hosts: dict | None = None):
    """``hosts``: the calling credential's app settings' ``call_hosts``; production refuses any other host."""
    timeout = timeout or settings.EXCHANGE_HTTP_TIMEOUT
    pool = getattr(_sessions, "pool", None)
    if pool is None or len(pool) > MAX_POOLED_SESSIONS:
        pool = _sessions.pool = {}
    key = (
        frozenset(origin_of(url) for url in allowed_base_urls),
        tuple(timeout) if isinstance(timeout, (list, tuple)) else timeout,
        hosts_key(hosts),
        production_hosts_enforced(),
    )
    session = pool.get(key)
    if session is None:
        session = pool[key] = ExchangeSession(allowed_base_urls, timeout, hosts)
    yield session
