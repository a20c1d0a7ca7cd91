"""Outbound HTTP that may reach public addresses only: a name is resolved and its addresses checked in the same
step as the connection uses them (ASVS V12.6.1, SSRF). The exchanges' host policy (connectors/base/hosts.py) and
the webhooks' deliveries both build on it."""

import ipaddress
import socket

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool

from .errors import PortalError


class HostNotAllowed(PortalError):
    """A host, or an address, that this call may not reach; the call was not made."""

    error_code, http_status = "host_not_allowed", 502


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def resolves_to_public_addresses_only(host: str) -> bool:
    """Every address the name resolves to is public: the form's check. The connection resolves the name again,
    so calls go through ``public_address_of`` too (PublicAddressAdapter)."""
    try:
        infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(is_public_address(info[4][0]) for info in infos)


def public_address_of(host: str, port: int) -> str:
    """The one address a connection to ``host`` may use, resolved and checked in the same step: a rebinding DNS
    server cannot answer the check with a public address and the connection with a private one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise HostNotAllowed(f"{host} does not resolve.")
    addresses = [info[4][0] for info in infos]
    if not addresses or not all(is_public_address(address) for address in addresses):
        raise HostNotAllowed(f"{host} is not a public address (private, loopback and link-local ones are refused).")
    return addresses[0]


class PublicAddressConnection(HTTPSConnection):
    def _new_conn(self):
        # Connect to the address just checked; TLS still verifies the certificate for the host's name.
        self._dns_host = public_address_of(self.host, self.port)
        return super()._new_conn()


class PublicAddressConnectionPool(HTTPSConnectionPool):
    ConnectionCls = PublicAddressConnection


class PublicAddressAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "https": PublicAddressConnectionPool,
        }
