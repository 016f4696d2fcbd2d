"""The key-encryption key (KEK) and what is derived from it.

The KEK never lives in the database. It comes from ``IDP_KEY_ENCRYPTION_KEY`` or, in dev mode
and for the embedded SQLite default, from a file generated under ``var/`` on first start.
Purpose-bound subkeys are derived with HKDF so that no two uses share a key.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.settings import ConfigurationError

_NONCE = 12


KEK_BYTES = 32  # AES-256; anything shorter is refused, never stretched
KEK_FILE = "kek"


def _b64d(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return b""


def _checked(raw: str, where: str) -> bytes:
    key = _b64d(raw.strip())
    if len(key) != KEK_BYTES:
        # An empty or short key would seal everything under (almost) nothing.
        raise ConfigurationError(
            f"{where} must be {KEK_BYTES} random bytes, base64url-encoded "
            f"(make one with: python -c 'import base64, os; "
            f"print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
        )
    return key


def load_or_create_kek(configured: str | None, var_dir: Path, *, may_generate: bool) -> bytes:
    """The key-encryption key: ``IDP_KEY_ENCRYPTION_KEY``, else (where ``may_generate``: dev
    mode or the one-process SQLite default) the file ``var/kek``, made on first start.

    On PostgreSQL several instances share the database, so each generating its own file would
    leave them unable to open each other's keys: there the setting is required.
    """
    if configured is not None:
        return _checked(configured, "IDP_KEY_ENCRYPTION_KEY")
    path = var_dir / KEK_FILE
    if not may_generate:
        raise ConfigurationError(
            "IDP_KEY_ENCRYPTION_KEY is required on PostgreSQL (outside IDP_DEV_MODE): every "
            "instance must share one key-encryption key, kept outside the database"
        )
    if not path.exists():
        _publish_new_kek(path)
    return _checked(path.read_text(), str(path))


def _publish_new_kek(path: Path) -> None:
    """Write a new key to a private temporary file, flush it to disk, then link it into place.
    ``os.link`` fails when the name exists, so of two processes starting at once one publishes
    and the other reads that complete file; nobody ever reads a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = base64.urlsafe_b64encode(os.urandom(KEK_BYTES)).decode().rstrip("=")
    fd, temporary = tempfile.mkstemp(prefix=".kek-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(encoded)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process published first: use it
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the new name survives a crash too
    finally:
        os.close(directory)


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
