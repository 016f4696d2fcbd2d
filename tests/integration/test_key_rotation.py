"""Signing key rotation against the live server: a new key is published before it signs, the
old one keeps verifying what it signed, and leaves the JWKS only after its tokens expired."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
from sqlalchemy import select

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import SigningKey
from idp.keys.store import SUPPORTED_ALGS
from tests.support.browser import Browser
from tests.support.factories import RP, Person
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer
from tests.support.token_kit import refreshed

ACTIVATE_IN = 60


async def _jwks_kids(http: httpx.AsyncClient) -> set[str]:
    response = await http.get("/jwks")
    assert response.status_code == 200
    return {key["kid"] for key in response.json()["keys"]}


async def _wait_for_jwks(http: httpx.AsyncClient, ready: Any, what: str) -> set[str]:
    """Poll the JWKS until ``ready(kids)``: the server caches keys for ``key_cache_ttl``."""
    deadline = time.monotonic() + 10
    while True:
        kids = await _jwks_kids(http)
        if ready(kids):
            return kids
        assert time.monotonic() < deadline, f"the JWKS never {what}: {kids}"
        await asyncio.sleep(0.1)


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _verify_with_jwks(token: str, jwks: dict[str, Any], rp: RP, issuer: str) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    key = jwt.PyJWK(jwk)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=[jwk["alg"]],
        audience=rp.client_id,
        issuer=issuer,
        # The server's clock runs ahead of the real one here; expiry is checked by the caller.
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return claims


def _latest_expiry(tokens: dict[str, Any]) -> float:
    return max(
        float(jwt.decode(tokens[name], options={"verify_signature": False})["exp"])
        for name in ("id_token", "access_token")
    )


async def test_rotation_publishes_first_signs_later_and_retires_slowly(
    server: LiveServer, ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        callback, verifier, _ = await log_in(browser, rp, person)
        first = (await redeem(http, rp, callback["code"], verifier)).json()
        old_kid = _kid(first["id_token"])
        assert _kid(first["access_token"]) == old_kid
        assert old_kid in await _jwks_kids(http)

        new_kids = await ctx.keys.rotate(activate_in=ACTIVATE_IN)
        assert len(new_kids) == len(SUPPORTED_ALGS)
        new_kid = new_kids[SUPPORTED_ALGS.index("ES256")]

        # Published at once (after the cache TTL), next to the old key.
        kids = await _wait_for_jwks(http, lambda k: new_kid in k, "published the new key")
        assert old_kid in kids
        assert set(new_kids) <= kids

        # Not signing yet: relying parties' caches get ACTIVATE_IN seconds to see it.
        before = await refreshed(http, rp, first["refresh_token"])
        assert _kid(before["id_token"]) == old_kid
        assert _kid(before["access_token"]) == old_kid

        clock.advance(ACTIVATE_IN + 1)
        after = await refreshed(http, rp, before["refresh_token"])
        assert _kid(after["id_token"]) == new_kid
        assert _kid(after["access_token"]) == new_kid

        # Both generations verify against the published JWKS, and the old access token, issued
        # before the rotation, is still honoured at the UserInfo endpoint.
        jwks = (await http.get("/jwks")).json()
        now = clock.now().timestamp()
        for token in (before["id_token"], after["id_token"]):
            claims = _verify_with_jwks(token, jwks, rp, server.url)
            assert claims["exp"] > now
        userinfo = await http.get(
            "/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
        )
        assert userinfo.status_code == 200, userinfo.text
        assert userinfo.json()["sub"] == person.account.sub
        newer = await http.get(
            "/userinfo", headers={"Authorization": f"Bearer {after['access_token']}"}
        )
        assert newer.status_code == 200, newer.text

        # The old key stays published until everything it signed has expired, then goes.
        async with ctx.db.read() as session:
            old_row = await session.get(SigningKey, old_kid)
            assert old_row is not None
            published_until = old_row.published_until
        assert published_until is not None
        assert published_until.timestamp() >= _latest_expiry(before)  # tokens the old key signed
        clock.advance(published_until.timestamp() - clock.now().timestamp() - 5)
        await asyncio.sleep(0.6)  # past the server's key cache
        assert old_kid in await _jwks_kids(http)
        clock.advance(10)
        kids = await _wait_for_jwks(http, lambda k: old_kid not in k, "dropped the old key")
        assert new_kid in kids
        latest = await refreshed(http, rp, after["refresh_token"])
        assert _kid(latest["id_token"]) == new_kid


async def test_private_keys_are_stored_sealed(server: LiveServer, ctx: Context) -> None:
    async with ctx.db.read() as session:
        rows = (await session.scalars(select(SigningKey))).all()
    assert {row.alg for row in rows} >= set(SUPPORTED_ALGS)
    for row in rows:
        assert b"PRIVATE KEY" not in row.private_enc
        assert b"-----BEGIN" not in row.private_enc
        # ... yet they open with the key-encryption key, into a PEM private key.
        assert b"PRIVATE KEY" in ctx.keyring.open("signing-key", row.private_enc, row.kid)
