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


def _unmapped(address: IPAddress) -> IPAddress:
    # ::ffff:127.0.0.1 reaches 127.0.0.1: judge the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    address = _unmapped(address)
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
