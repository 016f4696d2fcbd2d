"""Client addresses kept no finer than they are needed: a network, not a person."""

from __future__ import annotations

import ipaddress

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def truncated_address(client: str | None) -> str | None:
    """The client's network (IPv4 /24, IPv6 /48): what a person or an operator needs to tell
    "my home" from "abroad" or spot a flood's source, and not enough to single anyone out.
    Accepts ``host``, ``host:port`` and ``[v6]:port``; anything else is dropped."""
    if not client:
        return None
    host = client
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
