"""Which outbound targets are allowed (server-side request forgery guard).

Targets are https. Plain http, loopback and private addresses are reachable only where the
operator allows private addresses (``block_private_addresses=False``), and then plain http only to
a private or loopback address or to ``localhost``, never to a public one. The same rules apply at
registration (without DNS: literal addresses and the scheme) and at every delivery (on the address
the name resolved to).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URI_LENGTH = 2000
# Letters, digits, hyphens (and underscores, which internal names use); non-ASCII letters are
# internationalised names that the client sends IDNA-encoded.
_NAME = re.compile(r"[\w-]+(?:\.[\w-]+)*")


class BlockedTarget(Exception):
    """The policy refuses this target; trying again will not help."""


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
# RFC 8215 local-use NAT64 prefix: the network decides where the IPv4 address sits, so it
# cannot be judged; it is a private network's, whatever Python 3.11 says.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 §2.5.5.1, deprecated


def carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form leads to, if it carries one: IPv4-mapped
    (``::ffff:127.0.0.1``), NAT64 (``64:ff9b::7f00:1``), IPv4-compatible (``::7f00:1``),
    6to4 (``2002:7f00:1::``), Teredo (the client address). Traffic to those reaches the IPv4
    address (through the host's own stack, a NAT64 gateway or a relay), so it is that address
    the policy must judge."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or (
        address in _COMPATIBLE and int(address) > 1  # not :: or ::1, which are IPv6 proper
    ):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _unmapped(address: IPAddress) -> IPAddress:
    return carried_ipv4(address) or address


def is_public(address: IPAddress) -> bool:
    address = _unmapped(address)
    if address in _NAT64_LOCAL:
        return False
    return address.is_global and not address.is_multicast


def address_problem(address: IPAddress, *, secure: bool, allow_private: bool) -> str | None:
    """Why a connection to ``address`` is refused, or None."""
    address = _unmapped(address)
    if address.is_unspecified or address.is_multicast:
        return f"{address} is not a unicast address"
    if is_public(address):
        return None if secure else f"plain http to the public address {address} (use https)"
    if not allow_private:
        return f"{address} is a loopback, private or reserved address"
    return None


def _numeric_host_problem(host: str) -> str | None:
    """A host whose last label is a number is an IPv4 address to URL parsers and resolvers
    (WHATWG URL "ends in a number"; inet_aton): ``127.1``, ``0x7f000001``, ``2130706433``,
    ``0177.0.0.1`` all reach 127.0.0.1. Only the canonical dotted quad is accepted, so that the
    address the policy judges is the one every parser on the way reads."""
    if ":" in host:  # an IPv6 literal, judged as an address
        return None
    last = host.rsplit(".", 1)[-1].lower()
    if not (
        last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:]))
    ):
        return None
    try:
        ipaddress.IPv4Address(host)  # strict: four decimal parts, no leading zeros
    except ValueError:
        return f"has a non-canonical IPv4 address {host!r} (write it as four decimal numbers)"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_localhost(host: str) -> bool:
    # RFC 6761 §6.3: localhost and every name under it are loopback names.
    return host == "localhost" or host.endswith(".localhost")


def uri_problem(uri: str, *, allow_private: bool) -> str | None:
    """Why a back-channel URI is refused before any name lookup, or None."""
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must be an https URL"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "must name a host"
    if "@" in parts.netloc:
        return "must not carry user information"
    if parts.fragment or "#" in uri:
        return "must not have a fragment"
    if len(uri) > MAX_URI_LENGTH:
        return "is too long"
    secure = parts.scheme == "https"
    numeric = _numeric_host_problem(host)
    if numeric is not None:
        return numeric
    literal = _literal(host)
    if literal is None and not _NAME.fullmatch(host):
        return f"has an invalid host name {host!r}"
    if literal is not None:
        problem = address_problem(literal, secure=secure, allow_private=allow_private)
        return None if problem is None else f"is refused: {problem}"
    if _is_localhost(host):
        if not allow_private:
            return f"is refused: {host} is a loopback name"
        return None
    if not secure:
        return (
            "must use https (plain http only to a private or loopback address, "
            "where private addresses are allowed)"
        )
    return None
