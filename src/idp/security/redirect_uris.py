"""Redirect URIs: exact matching (RFC 9700 §4.1.3) and building responses onto them."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlencode, urlsplit, urlunsplit


def is_loopback_host(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_LOOPBACK = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?(/[^#@]*)?")


def _loopback_without_port(uri: str) -> str | None:
    match = _LOOPBACK.fullmatch(uri)
    return f"{match.group(1)}{match.group(2) or ''}" if match else None


def matches_registered(candidate: str, registered: tuple[str, ...], *, native: bool) -> bool:
    """Simple string comparison (RFC 9700 §4.1.3). Only for a native app (a public client) may a
    loopback IP literal's port differ (RFC 8252 §7.3, RFC 9700 §4.1.1): it listens on whatever
    port the system gives it. A web server's port is fixed, and another port on the same host may
    belong to someone else. Everything else must still be identical to the letter."""
    if candidate in registered:
        return True
    if not native:
        return False
    rest = _loopback_without_port(candidate)
    if rest is None:
        return False
    return any(_loopback_without_port(uri) == rest for uri in registered)


def registration_problem(uri: str) -> str | None:
    """Why a redirect URI cannot be registered, or None (RFC 9700 §2.6, RFC 6749 §3.1.2)."""
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError:
        return "is not a valid URI"
    private_scheme = "." in parts.scheme  # RFC 8252 §7.1: com.example.app:/callback
    if not parts.scheme or (not parts.netloc and not private_scheme):
        return "must be an absolute URI"
    if parts.fragment or "#" in uri:
        return "must not have a fragment"
    if "@" in parts.netloc:
        return "must not carry user information"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return "must use https (plain http only on a loopback address)"
    if parts.scheme not in ("http", "https") and "." not in parts.scheme:
        # Native apps use reverse-domain private schemes (RFC 8252 §7.1).
        return "must use https or a reverse-domain private scheme"
    if len(uri) > 2000:
        return "is too long"
    return None


def with_params(uri: str, params: dict[str, str | None]) -> str:
    """Append response parameters, keeping the URI's own query (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query and extra else parts.query or extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
