"""The key-encryption key (KEK) and what is derived from it.

The KEK never lives in the database. It comes from ``IDP_KEY_ENCRYPTION_KEY`` or, for the
embedded default, from a file generated under ``var/`` on first start. Purpose-bound subkeys
are derived with HKDF so that no two uses share a key.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12


def _b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def load_or_create_kek(configured: str | None, var_dir: Path) -> bytes:
    if configured:
        key = _b64d(configured)
        if len(key) != 32:
            raise ValueError("IDP_KEY_ENCRYPTION_KEY must be 32 bytes, base64url-encoded")
        return key
    path = var_dir / "kek"
    if path.exists():
        return _b64d(path.read_text().strip())
    var_dir.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    # O_EXCL: two processes starting at once must not each write their own key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _b64d(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.urlsafe_b64encode(key).decode().rstrip("="))
    return key


class Keyring:
    """Seals and opens small secrets bound to a context (AES-256-GCM, random nonce, AAD)."""

    def __init__(self, kek: bytes) -> None:
        self._kek = kek

    def subkey(self, purpose: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._kek
        )

    def seal(self, purpose: str, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(self.subkey(purpose)).encrypt(nonce, plaintext, context.encode())

    def open(self, purpose: str, sealed: bytes, context: str) -> bytes:
        nonce, body = sealed[:_NONCE], sealed[_NONCE:]
        return AESGCM(self.subkey(purpose)).decrypt(nonce, body, context.encode())
