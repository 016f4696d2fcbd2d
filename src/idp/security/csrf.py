"""CSRF protection for every form: a per-browser cookie plus a token derived from it.

The token is an HMAC of the cookie under a key derived from the KEK, so every instance can
check it without shared state, and a page from another site can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac

from idp.security.sealing import Keyring
from idp.security.tokens import new_token

COOKIE = "idp_browser"


class Csrf:
    def __init__(self, keyring: Keyring) -> None:
        self._key = keyring.subkey("csrf")

    @staticmethod
    def new_browser_id() -> str:
        return new_token(24)

    def token_for(self, browser_id: str, purpose: str) -> str:
        mac = hmac.new(self._key, f"{purpose}:{browser_id}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def check(self, browser_id: str | None, purpose: str, token: str | None) -> bool:
        if not browser_id or not token or len(token) != 64:
            return False
        return hmac.compare_digest(self.token_for(browser_id, purpose), token)
