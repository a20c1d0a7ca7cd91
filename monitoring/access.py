"""Who may read /metrics: a caller with the configured bearer token, or one connecting from a configured address."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest

ALLOWED = "allowed"
UNCONFIGURED = "unconfigured"  # neither a token nor addresses: the endpoint answers no one
NO_TOKEN = "no_token"  # a token is configured and the caller did not present it
REFUSED = "refused"


def metrics_access(request: HttpRequest) -> str:
    token, networks = settings.METRICS_BEARER_TOKEN, settings.METRICS_ALLOWED_IPS
    if not token and not networks:
        return UNCONFIGURED
    if token and presented_token_matches(request, token):
        return ALLOWED
    if networks and remote_address_in(request, networks):
        return ALLOWED
    return NO_TOKEN if token else REFUSED


def presented_token_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    # Constant time, so the answer's timing tells nothing about how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def remote_address_in(request: HttpRequest, networks) -> bool:
    # The socket's peer, never X-Forwarded-For: any client can send that header.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
