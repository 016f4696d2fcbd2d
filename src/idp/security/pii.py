"""Personal data at rest: randomised AEAD per value, plus a keyed blind index for lookups."""

from __future__ import annotations

import hashlib
import hmac

from idp.security.sealing import Keyring


class PersonalDataVault:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._index_keys: dict[str, bytes] = {}

    def encrypt(self, field: str, value: str, row_id: str) -> bytes:
        # The row and field are bound in the AAD: a ciphertext moved elsewhere does not open.
        return self._keyring.seal(f"pii:{field}", value.encode(), f"{field}:{row_id}")

    def decrypt(self, field: str, sealed: bytes, row_id: str) -> str:
        return self._keyring.open(f"pii:{field}", sealed, f"{field}:{row_id}").decode()

    def blind_index(self, field: str, normalized_value: str) -> str:
        key = self._index_keys.get(field)
        if key is None:
            key = self._index_keys[field] = self._keyring.subkey(f"bidx:{field}")
        return hmac.new(key, normalized_value.encode(), hashlib.sha256).hexdigest()
