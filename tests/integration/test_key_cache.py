"""Signing keys in a process: opened once per ``kid``, off the event loop, and never signing
before every cache of the JWKS (the process's own, the relying parties') could have seen them."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from idp.clock import OffsetClock
from idp.context import Context
from idp.keys.store import KeyStore
from idp.settings import Settings
from tests.support.browser import Browser
from tests.support.factories import RP, Person
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import idp_env, run_idp
from tests.support.token_kit import refreshed as refresh_ok

# What operators get unless they change it: the process's key cache lifetime.
DEFAULT_KEY_CACHE = float(Settings.model_fields["key_cache_ttl"].default)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread of every private key parse, in this process (a spy: it parses for real)."""
    seen: list[int] = []
    real: Callable[..., Any] = serialization.load_pem_private_key

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(serialization, "load_pem_private_key", counting)
    return seen


async def test_keys_are_opened_once_per_kid_and_off_the_event_loop(
    ctx: Context, clock: OffsetClock, parses: list[int]
) -> None:
    store = KeyStore(ctx.db, ctx.keyring, clock, cache_ttl=0.01, max_token_ttl=700)
    published = len((await store.jwks())["keys"])
    assert published >= 3
    assert len(parses) == published
    assert threading.get_ident() not in parses  # parsed in a worker thread

    # An unknown kid (a forged or stale token) re-reads the key set, and parses nothing again.
    assert await store.verification_key("no-such-kid") is None
    await asyncio.sleep(0.02)  # past the cache lifetime: the next read goes to the database
    assert len((await store.jwks())["keys"]) == published
    for _ in range(5):
        store.invalidate()
        assert await store.verification_key("another-unknown-kid") is None
    assert len(parses) == published


def test_the_activation_delay_must_outlast_every_jwks_cache() -> None:
    Settings().check()  # the defaults agree
    with pytest.raises(ValueError, match="IDP_KEY_ACTIVATION_DELAY"):
        Settings(key_activation_delay=90, jwks_max_age=60, key_cache_ttl=30).check()
    Settings(key_activation_delay=91, jwks_max_age=60, key_cache_ttl=30).check()


async def test_idp_refuses_to_start_when_keys_could_sign_unseen(settings: Settings) -> None:
    env = idp_env(settings, IDP_KEY_ACTIVATION_DELAY="60", IDP_JWKS_MAX_AGE="60")
    code, _, err = await run_idp(env, "keys", "rotate", "--json")
    assert code != 0
    assert err.count("\n") == 1, err
    assert "IDP_KEY_ACTIVATION_DELAY" in err, err


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_a_stale_key_set_never_signs_with_a_key_relying_parties_cannot_see(
    server: LiveServer,
    settings: Settings,
    clock: OffsetClock,
    browser: Browser,
    rp: RP,
    person: Person,
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        callback, verifier, _ = await log_in(browser, rp, person)
        tokens = (await redeem(http, rp, callback["code"], verifier)).json()
        # What a relying party fetched just before the rotation, and keeps for max-age.
        answer = await http.get("/jwks")
        cache_control = re.search(r"max-age=(\d+)", answer.headers["cache-control"])
        assert cache_control is not None
        max_age = int(cache_control.group(1))
        seen = {key["kid"] for key in answer.json()["keys"]}

        # The operator rotates as documented, without choosing a delay.
        code, out, err = await run_idp(idp_env(settings), "keys", "rotate", "--json")
        assert code == 0, err
        new_kids = set(json.loads(out)["new_keys"])
        deadline = time.monotonic() + 10
        while not new_kids <= {k["kid"] for k in (await http.get("/jwks")).json()["keys"]}:
            assert time.monotonic() < deadline, "the new keys were never published"
            await asyncio.sleep(0.1)

        # Until that copy of the JWKS runs out, and a process's stale key set with it, the old
        # keys sign.
        clock.advance(max_age + DEFAULT_KEY_CACHE)
        refreshed = await refresh_ok(http, rp, tokens["refresh_token"])
        for name in ("id_token", "access_token"):
            assert _kid(refreshed[name]) in seen, "signed with a key relying parties cannot see"

        # Then the new keys take over.
        # (The process's key set already holds the new keys' schedule: it published them.)
        clock.advance(float(json.loads(out)["activate_in"]))
        later = await refresh_ok(http, rp, refreshed["refresh_token"])
        assert _kid(later["id_token"]) in new_kids


async def test_a_key_that_will_not_open_is_left_out_and_the_others_still_sign(
    ctx: Context, clock: OffsetClock
) -> None:
    from sqlalchemy import delete

    from idp.db.models import SigningKey
    from idp.security.sealing import Keyring

    # A key sealed by an instance with another KEK (added directly: a rotation would also
    # retire this database's keys, which other tests sign with).
    stranger = KeyStore(ctx.db, Keyring(b"s" * 32), clock, cache_ttl=0.01, max_token_ttl=700)
    async with ctx.db.transaction() as session:
        foreign = [stranger._new_row(session, "ES256", activates_at=clock.now())]
    try:
        store = KeyStore(ctx.db, ctx.keyring, clock, cache_ttl=0.01, max_token_ttl=700)
        kids = {key["kid"] for key in (await store.jwks())["keys"]}
        assert kids
        assert not kids & set(foreign)
        assert (await store.signing_key("ES256")).kid not in foreign
    finally:
        async with ctx.db.transaction() as session:
            await session.execute(delete(SigningKey).where(SigningKey.kid.in_(foreign)))


async def test_a_burst_of_unknown_kids_reads_the_key_set_once(
    ctx: Context, clock: OffsetClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore(ctx.db, ctx.keyring, clock, cache_ttl=30, max_token_ttl=700)
    await store.jwks()
    reads: list[float] = []
    real = store._load_published

    async def counting(session: Any) -> Any:
        reads.append(time.monotonic())
        return await real(session)

    monkeypatch.setattr(store, "_load_published", counting)
    await asyncio.sleep(1.1)  # past the gap between forced reloads
    found = await asyncio.gather(*(store.verification_key(f"forged-{n}") for n in range(30)))
    assert found == [None] * 30
    assert len(reads) == 1
