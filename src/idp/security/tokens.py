"""Random secrets and their stored form."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(nbytes: int = 32) -> str:
    """A URL-safe secret with ``8 * nbytes`` bits of entropy (RFC 6749 §10.10: at least 128)."""
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    """What we store for a high-entropy secret: SHA-256, hex."""
    return hashlib.sha256(value.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
