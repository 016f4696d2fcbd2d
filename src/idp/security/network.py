"""Client addresses: read from what proxies and sockets write, and kept no finer than needed."""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def parse_address(value: str) -> IPAddress | None:
    """An address from ``host``, ``host:port`` or ``[v6]:port``; an IPv4-mapped IPv6 address
    as the IPv4 address it carries; None for anything else."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "192.0.2.1:443"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def truncated_address(client: str | None) -> str | None:
    """The client's network (IPv4 /24, IPv6 /48): what a person or an operator needs to tell
    "my home" from "abroad" or spot a flood's source, and not enough to single anyone out."""
    address = parse_address(client) if client else None
    if address is None:
        return None
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
