"""Signing keys: generated, sealed at rest, published in JWKS before they sign, retired slowly.

A rotated-in key is published at once but signs only from ``activates_at``, so every cache of
our JWKS (other instances, relying parties) has had time to see it. A superseded key stays
published until every token it signed has expired.

Each process re-reads the key rows every ``cache_ttl`` seconds, but opens (decrypts and parses)
a key only once, by ``kid``, in a worker thread: an RSA key takes tens of milliseconds, which
the event loop must not spend.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.clock import Clock
from idp.db.engine import Database
from idp.db.models import SigningKey
from idp.security.sealing import Keyring

logger = logging.getLogger("idp.keys")
_FORCED_RELOAD_GAP = 1.0  # seconds: forced reloads closer together than this read nothing new

SUPPORTED_ALGS = ("ES256", "RS256", "EdDSA")
_SEAL_PURPOSE = "signing-key"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class LoadedKey:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private: PrivateKey
    public: PublicKey
    activates_at: datetime
    deactivated_at: datetime | None


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported algorithm {alg}")


def public_jwk(key: PublicKey) -> dict[str, Any]:
    jwk: dict[str, Any]
    if isinstance(key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
    return jwk


def _open_key(keyring: Keyring, sealed: bytes, kid: str) -> tuple[PrivateKey, PublicKey]:
    """Decrypt and parse one private key (CPU-bound: run it in a thread)."""
    pem = keyring.open(_SEAL_PURPOSE, sealed, kid)
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(
        private, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    )
    return private, private.public_key()


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint, used as ``kid``."""
    required = {
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
        "OKP": ("crv", "kty", "x"),
    }
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")


class KeyStore:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        clock: Clock,
        *,
        cache_ttl: float,
        max_token_ttl: int,
        activation_delay: int = 120,
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._clock = clock
        self._cache_ttl = cache_ttl
        self._max_token_ttl = max_token_ttl
        self._activation_delay = activation_delay
        self._keys: list[LoadedKey] = []
        # Opened private keys by kid; a kid names one key for good (it is the key's thumbprint).
        self._opened: dict[str, tuple[PrivateKey, PublicKey]] = {}
        self._loaded_at = -1e9
        self._lock = asyncio.Lock()

    # --- reading -----------------------------------------------------------------------------

    async def _published(self, *, force: bool = False) -> list[LoadedKey]:
        if not force and time.monotonic() - self._loaded_at < self._cache_ttl:
            return self._keys
        async with self._lock:
            # A forced reload (an unknown kid, no active key) that queued behind another one
            # finds the set just read: a burst of random kids reads the database once.
            fresh_for = min(_FORCED_RELOAD_GAP, self._cache_ttl) if force else self._cache_ttl
            if time.monotonic() - self._loaded_at < fresh_for:
                return self._keys
            async with self._db.read() as session:
                rows = await self._load_published(session)
            new = [(row.kid, row.private_enc) for row in rows if row.kid not in self._opened]
            if new:
                opened = await asyncio.to_thread(self._open_all, new)
                self._opened.update(opened)
            # Keys no longer published are forgotten; keys that would not open are left out.
            published = [row for row in rows if row.kid in self._opened]
            self._opened = {row.kid: self._opened[row.kid] for row in published}
            self._keys = [self._loaded(row) for row in published]
            self._loaded_at = time.monotonic()
            return self._keys

    async def _load_published(self, session: AsyncSession) -> list[SigningKey]:
        now = self._clock.now()
        rows = (await session.scalars(select(SigningKey))).all()
        return [r for r in rows if r.published_until is None or r.published_until > now]

    def _open_all(self, sealed: list[tuple[str, bytes]]) -> dict[str, tuple[PrivateKey, PublicKey]]:
        opened = {}
        for kid, private_enc in sealed:
            try:
                opened[kid] = _open_key(self._keyring, private_enc, kid)
            except (InvalidTag, ValueError):
                # Sealed under another KEK (an instance set up apart) or damaged: one such key
                # must not stop signing with the others. Tried again at the next reload.
                logger.error("signing key %s does not open with this KEK; left out", kid)
        return opened

    def _loaded(self, row: SigningKey) -> LoadedKey:
        # The schedule (activation, deactivation) is read fresh every time; only the key
        # material is reused.
        private, public = self._opened[row.kid]
        return LoadedKey(
            kid=row.kid,
            alg=row.alg,
            public_jwk=row.public_jwk,
            private=private,
            public=public,
            activates_at=row.activates_at,
            deactivated_at=row.deactivated_at,
        )

    async def signing_key(self, alg: str) -> LoadedKey:
        now = self._clock.now()
        for force in (False, True):
            active = [
                k
                for k in await self._published(force=force)
                if k.alg == alg
                and k.activates_at <= now
                and (k.deactivated_at is None or k.deactivated_at > now)
            ]
            if active:
                return max(active, key=lambda k: k.activates_at)
        raise LookupError(f"no active signing key for {alg}; run `idp keys rotate`")

    async def verification_key(self, kid: str) -> LoadedKey | None:
        for force in (False, True):
            for key in await self._published(force=force):
                if key.kid == kid:
                    return key
            if not force and time.monotonic() - self._loaded_at < 1.0:
                break  # an unknown kid must not let callers hammer the database
        return None

    async def jwks(self) -> dict[str, Any]:
        keys = []
        for key in await self._published():
            jwk = dict(key.public_jwk)
            jwk.update(kid=key.kid, alg=key.alg, use="sig")
            keys.append(jwk)
        return {"keys": keys}

    def invalidate(self) -> None:
        self._loaded_at = -1e9

    # --- writing -----------------------------------------------------------------------------

    async def ensure_keys(self) -> list[str]:
        """Create a key for each algorithm that has none (first start). Returns new kids."""
        async with self._db.transaction() as session:
            rows = await self._load_published(session)
            have = {row.alg for row in rows}
            created = [
                self._new_row(session, alg, activates_at=self._clock.now())
                for alg in SUPPORTED_ALGS
                if alg not in have
            ]
        self.invalidate()
        return created

    async def rotate(
        self, *, activate_in: int | None = None, algs: tuple[str, ...] = SUPPORTED_ALGS
    ) -> list[str]:
        """New keys, published now and signing after ``activate_in`` seconds (by default the
        configured activation delay, which outlasts every cache of the JWKS)."""
        now = self._clock.now()
        delay = self._activation_delay if activate_in is None else activate_in
        activates_at = now + timedelta(seconds=delay)
        async with self._db.transaction() as session:
            rows = await self._load_published(session)
            for row in rows:
                if row.alg in algs and row.deactivated_at is None:
                    row.deactivated_at = activates_at
                    row.published_until = activates_at + timedelta(seconds=self._max_token_ttl)
            created = [self._new_row(session, alg, activates_at=activates_at) for alg in algs]
            record(
                session,
                "keys.rotated",
                at=now,
                actor="operator",
                kids=created,
                activates_at=activates_at.isoformat(),
            )
        self.invalidate()
        return created

    def _new_row(self, session: AsyncSession, alg: str, *, activates_at: datetime) -> str:
        private = generate_private_key(alg)
        jwk = public_jwk(private.public_key())
        kid = thumbprint(jwk)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        session.add(
            SigningKey(
                kid=kid,
                alg=alg,
                public_jwk=jwk,
                private_enc=self._keyring.seal(_SEAL_PURPOSE, pem, kid),
                created_at=self._clock.now(),
                activates_at=activates_at,
            )
        )
        return kid
