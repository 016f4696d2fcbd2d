"""The client's address, as far as it can be known.

``X-Forwarded-For`` is a list each proxy appends to, so only its right end is written by
proxies we run; the left end is whatever the client sent. We walk it from the right, skipping
the addresses of our own trusted proxies (``IDP_TRUSTED_PROXIES``), and take the first address
that is not one of them: the client as seen by our outermost proxy. Without trusted proxies, or
when the peer itself is not one, the header is ignored and the peer address is the client's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

from idp.security.network import IPAddress, parse_address

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def resolve(peer: str | None, forwarded_for: list[str], proxies: Sequence[IPNetwork]) -> str | None:
    """The client's address from the peer and every ``X-Forwarded-For`` header, in order."""
    peer_address = parse_address(peer) if peer else None
    if peer_address is None:
        return peer
    if not proxies or not _trusted(peer_address, proxies):
        return str(peer_address)
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    client = peer_address
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break  # garbage written by someone we do not trust: stop at the last good hop
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)


def client_address(request: Request, proxies: Sequence[IPNetwork]) -> str | None:
    peer = request.client.host if request.client else None
    return resolve(peer, request.headers.getlist("x-forwarded-for"), proxies)
