"""Who is asking: the client's IP address, believed from X-Forwarded-For only through proxies
listed in DIGEST_TRUSTED_PROXIES.

Without trusted proxies (the default) the address is the TCP peer's, whatever the headers say.
Behind trusted proxies, X-Forwarded-For is read from the right: each hop a trusted proxy wrote
is skipped, and the first address no trusted proxy owns is the client. Anything in the header
that is not an IP address ends the walk at the last hop we could trust. `Forwarded`,
`X-Real-IP` and the like are never read. Only a valid IP address ever comes out.
"""

from __future__ import annotations

import ipaddress

from fastapi import Request

from digest.config import Settings
from digest.throttle import valid_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: Request) -> str | None:
    """The client's IP address (canonical text), or None when the peer has none."""
    settings: Settings = request.app.state.settings
    peer = valid_ip(request.client.host if request.client else None)
    networks = settings.trusted_networks
    if peer is None or not _trusted(peer, networks):
        return peer
    hops = [hop for line in request.headers.getlist("x-forwarded-for") for hop in line.split(",")]
    current = peer
    for hop in reversed(hops):
        address = valid_ip(hop)
        if address is None:
            return current
        if not _trusted(address, networks):
            return address
        current = address
    return current


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == network.version and ip in network for network in networks)
