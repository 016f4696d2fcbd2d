"""Device cookies: a browser that has logged in to an account before is recognised, so it is
judged by its own failure counter and strangers guessing at the account cannot lock it out
(OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

The cookie is a random 128-bit nonce plus, for each account that logged in from this browser
(the last few), a tag: an HMAC of the nonce and the account under a key derived from the KEK.
Nothing is stored per device; the server keeps only keyed hashes of the nonce (the device's
failure counter), so the cookie tells nothing about the account and cannot be forged for
another one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from idp.security.sealing import Keyring
from idp.security.tokens import new_token

COOKIE = "idp_device"
MAX_ACCOUNTS = 4  # accounts remembered per browser (a shared family computer)
_NONCE_LENGTH = 22  # new_token(16)
_TAG_LENGTH = 22


class DeviceCookies:
    def __init__(self, keyring: Keyring) -> None:
        self._key = keyring.subkey("device-cookie")

    def _mac(self, purpose: str, nonce: str, account_id: uuid.UUID) -> str:
        mac = hmac.new(self._key, f"{purpose}:{nonce}:{account_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode()[:_TAG_LENGTH]

    @staticmethod
    def _parts(value: str | None) -> tuple[str, list[str]] | None:
        if not value or len(value) > (_NONCE_LENGTH + 1 + _TAG_LENGTH) * (MAX_ACCOUNTS + 1):
            return None
        nonce, *tags = value.split(".")
        if len(nonce) != _NONCE_LENGTH or any(len(tag) != _TAG_LENGTH for tag in tags):
            return None
        return nonce, tags[-MAX_ACCOUNTS:]

    def knows(self, value: str | None, account_id: uuid.UUID) -> bool:
        """Whether this cookie was given after a successful login to this account."""
        parts = self._parts(value)
        if parts is None:
            return False
        nonce, tags = parts
        expected = self._mac("tag", nonce, account_id)
        return any(hmac.compare_digest(tag, expected) for tag in tags)

    def counter_id(self, value: str, account_id: uuid.UUID) -> str:
        """The keyed hash naming this device's own failure counter for this account."""
        parts = self._parts(value)
        nonce = parts[0] if parts else value
        return self._mac("counter", nonce, account_id)

    def remember(self, value: str | None, account_id: uuid.UUID) -> str:
        """The cookie to set after a successful login: this browser's nonce (a new one if it
        had none), with this account's tag last."""
        parts = self._parts(value)
        nonce, tags = parts if parts else (new_token(16), [])
        tag = self._mac("tag", nonce, account_id)
        kept = [t for t in tags if not hmac.compare_digest(t, tag)][-(MAX_ACCOUNTS - 1) :]
        return ".".join([nonce, *kept, tag])
