"""Signing and verifying our own JWTs (ID tokens, access tokens, logout tokens).

PyJWT is used for JWS: it is small, typed, built on ``cryptography``, supports ES256, RS256 and
EdDSA, and is synchronous-pure (no I/O), so it is safe inside ``async def``. Authlib's JOSE would
do as well, but its server classes are synchronous; we use Authlib only on the client side.
"""

from __future__ import annotations

from typing import Any

import jwt

from idp.clock import Clock
from idp.keys.store import KeyStore

ACCEPTED_ALGS = ["ES256", "RS256", "EdDSA"]


class TokenSigner:
    def __init__(self, keys: KeyStore, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def sign(self, claims: dict[str, Any], *, alg: str, typ: str) -> str:
        key = await self._keys.signing_key(alg)
        return jwt.encode(claims, key.private, algorithm=alg, headers={"kid": key.kid, "typ": typ})

    async def verify(
        self,
        token: str,
        *,
        typ: str | None,
        audience: str | None = None,
        verify_exp: bool = True,
        issuer: str,
    ) -> dict[str, Any] | None:
        """Claims of a token we issued, or None. Keys come only from our own store (no jku,
        x5u or embedded jwk), and the algorithm must be the key's own (no alg confusion)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        kid = header.get("kid")
        if not isinstance(kid, str) or (typ is not None and header.get("typ") != typ):
            return None
        key = await self._keys.verification_key(kid)
        if key is None or header.get("alg") != key.alg:
            return None
        # Time is checked against our clock below, not PyJWT's, so tests can move time.
        options: dict[str, Any] = {
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
            "verify_aud": audience is not None,
            "require": ["iss", "iat", "exp"],
        }
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public,
                algorithms=[key.alg],
                audience=audience,
                issuer=issuer,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.PyJWTError:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            return None
        if verify_exp and exp <= self._clock.now().timestamp():
            return None
        return claims
