"""Where server-side calls may go: in production, only an exchange's known production hosts (each package's
``Exchange.known_hosts``, data), or a host allowed explicitly: on one credential by a superuser (its
``extra_hosts``, which broker admins see but cannot change; audited), or for the whole deployment by whoever runs
it (EXCHANGE_ALLOWED_EXTRA_HOSTS); the generic OAuth 2.0 provider may name any host that resolves only to public
addresses. A broker admin's typed base URL can so not reach a private network, a cloud metadata
address or a service on loopback (ASVS V12.6.1, SSRF). Off outside production (EXCHANGE_HOSTS_ENFORCED), where
the sandbox runs on loopback."""

from urllib.parse import urlsplit

from django.conf import settings

from broker_portal.public_addresses import HostNotAllowed, resolves_to_public_addresses_only


def enforced() -> bool:
    return bool(settings.EXCHANGE_HOSTS_ENFORCED)


def extra_hosts() -> set[str]:
    return {host.strip().lower() for host in settings.EXCHANGE_ALLOWED_EXTRA_HOSTS if host.strip()}


def hosts_for_calls(exchange_id: str, credential_extra_hosts) -> dict:
    """What a credential's calls may reach, carried in its OAuth app's settings so that every call is checked
    against its own exchange's hosts (not any exchange's) without a query."""
    from connectors.exchanges import EXCHANGES

    exchange = EXCHANGES.get(exchange_id)
    return {
        "known_hosts": list(exchange.known_hosts if exchange else ()),
        "extra_hosts": [host.lower() for host in credential_extra_hosts or ()],
    }


def all_known_hosts() -> set[str]:
    from connectors.exchanges import EXCHANGES

    return {host for exchange in EXCHANGES.values() for host in exchange.known_hosts}


def pinned_hosts_exempt(hosts: dict | None) -> set[str]:
    """Hosts a connection may reach at whatever address they resolve to: the ones allowed by name (a broker's own
    server on its network)."""
    return extra_hosts() | set((hosts or {}).get("extra_hosts", ()))


def check_base_url(url: str, *, known_hosts: tuple[str, ...] | set[str] | list[str] | None, allowed_hosts=()) -> None:
    """Raise HostNotAllowed unless production may call ``url``. ``known_hosts``: the exchange's; None or empty
    for the generic OAuth 2.0 provider, whose hosts must then be public. ``allowed_hosts``: the ones a superuser
    allowed on the credential (private addresses included: a broker's own server on its network)."""
    if not enforced() or not url:
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        raise HostNotAllowed(f"{url} is not an https address.")
    if host in extra_hosts() or host in {allowed.lower() for allowed in allowed_hosts}:
        return
    if known_hosts:
        if host not in known_hosts:
            raise HostNotAllowed(f"{host} is not one of this exchange's hosts ({', '.join(sorted(known_hosts))}).")
        return
    if not resolves_to_public_addresses_only(host):
        raise HostNotAllowed(f"{host} is not a public address (private, loopback and link-local ones are refused).")


def check_call_url(url: str, hosts: dict | None = None) -> None:
    """At call time: ``hosts`` (``hosts_for_calls``) names the calling credential's exchange and allowances.
    Without it (a caller that knows no credential), a host of some exchange, an allowed extra one, or a public
    one."""
    if not enforced():
        return
    if hosts is not None:
        check_base_url(url, known_hosts=hosts.get("known_hosts") or None, allowed_hosts=hosts.get("extra_hosts", ()))
        return
    host = (urlsplit(url).hostname or "").lower()
    check_base_url(url, known_hosts=None if host not in all_known_hosts() else all_known_hosts())
