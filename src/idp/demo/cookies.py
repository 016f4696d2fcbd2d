"""The demo's only state: sealed cookies on ``/demo`` (AES-256-GCM: nobody can read or change
them), HttpOnly, SameSite=Lax, Secure under https, each with its expiry sealed inside."""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.requests import Request
from starlette.responses import Response

PATH = "/demo"
FLOW = "idp_demo_flow"  # state, nonce and PKCE verifier between /demo/login and the callback
TOKENS = "idp_demo_tokens"  # what the token endpoint returned
FLOW_TTL = 600  # seconds a person may take to log in
TOKENS_TTL = 8 * 3600
_NONCE = 12


class SealedCookies:
    def __init__(self, key: bytes, *, secure: bool) -> None:
        self._aead = AESGCM(key)
        self._secure = secure

    def name(self, base: str) -> str:
        # __Host- needs Path=/; __Secure- still keeps an http page from setting it.
        return f"__Secure-{base}" if self._secure else base

    def write(self, response: Response, base: str, value: dict[str, Any], ttl: int) -> None:
        name = self.name(base)
        payload = json.dumps({"exp": int(time.time()) + ttl, "v": value}).encode()
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, payload, name.encode())  # bound to its name
        response.set_cookie(
            name,
            base64.urlsafe_b64encode(sealed).decode().rstrip("="),
            max_age=ttl,
            path=PATH,
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )

    def read(self, request: Request, base: str) -> dict[str, Any] | None:
        """The value, or None when the cookie is missing, altered, from elsewhere or expired."""
        name = self.name(base)
        raw = request.cookies.get(name)
        if not raw or len(raw) > 4096:
            return None
        try:
            sealed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            payload = json.loads(
                self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], name.encode())
            )
        except (binascii.Error, ValueError, InvalidTag):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("v"), dict):
            return None
        if not isinstance(payload.get("exp"), int) or payload["exp"] <= time.time():
            return None
        value: dict[str, Any] = payload["v"]
        return value

    def clear(self, response: Response, base: str) -> None:
        response.delete_cookie(
            self.name(base), path=PATH, secure=self._secure, httponly=True, samesite="lax"
        )
