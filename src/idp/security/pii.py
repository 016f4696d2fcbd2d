"""Personal data at rest: randomised AEAD per value, plus a keyed blind index for lookups."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.security.sealing import Keyring

_NONCE = 12


class PersonalDataVault:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._index_keys: dict[str, bytes] = {}
        self._column_ciphers: dict[str, AESGCM] = {}

    def encrypt(self, field: str, value: str, row_id: str) -> bytes:
        # The row and field are bound in the AAD: a ciphertext moved elsewhere does not open.
        return self._keyring.seal(f"pii:{field}", value.encode(), f"{field}:{row_id}")

    def decrypt(self, field: str, sealed: bytes, row_id: str) -> str:
        return self._keyring.open(f"pii:{field}", sealed, f"{field}:{row_id}").decode()

    def seal_column(self, field: str, value: str) -> bytes:
        """A sealed column value (``idp.db.sealed``): bound to its column, not to its row,
        because the column type that calls this does not see the row."""
        nonce = os.urandom(_NONCE)
        return nonce + self._column_cipher(field).encrypt(nonce, value.encode(), field.encode())

    def open_column(self, field: str, sealed: bytes) -> str:
        cipher = self._column_cipher(field)
        return cipher.decrypt(sealed[:_NONCE], sealed[_NONCE:], field.encode()).decode()

    def blind_index(self, field: str, normalized_value: str) -> str:
        key = self._index_keys.get(field)
        if key is None:
            key = self._index_keys[field] = self._keyring.subkey(f"bidx:{field}")
        return hmac.new(key, normalized_value.encode(), hashlib.sha256).hexdigest()

    def _column_cipher(self, field: str) -> AESGCM:
        # Deriving the subkey costs an HKDF run; a column is sealed on every row written.
        cipher = self._column_ciphers.get(field)
        if cipher is None:
            cipher = AESGCM(self._keyring.subkey(f"pii-column:{field}"))
            self._column_ciphers[field] = cipher
        return cipher
