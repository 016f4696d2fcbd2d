"""Attempts racing each other and the things they check (issue 8, items 1 and 3).

- Parallel wrong passwords cannot outrun the throttle: each attempt is reserved before argon2
  runs, so at most the free allowance gets "wrong password" and the rest are throttled.
- The argon2 queue is bounded: beyond it the answer is a quick 503 with Retry-After.
- A login that verified a password just before it was changed starts no session, and its
  rehash never writes the old password back.

Two tests hold argon2 at a chosen point with a ``PasswordService`` whose hashing waits for the
test (the race is then exact, not left to timing); what is checked is the login and the
throttle around it, which run unchanged.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import select

from idp.accounts.errors import InvalidCredentials
from idp.accounts.login.service import log_in
from idp.accounts.passwords.service import change_password
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Account, BrowserSession
from idp.errors import ServerBusy
from idp.security.passwords import PasswordService
from idp.settings import Argon2Settings, Settings
from tests.support.api_kit import Api, random_ip, serve_variant
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.flows import auth_params, login_page
from tests.support.live import LiveServer

WRONG = "Wrong-Password-1"
NEW = "Fresh-Meadow-58"
PARALLEL = 40


@pytest.fixture(scope="module")
def slow_server(settings: Settings, clock: OffsetClock) -> Iterator[LiveServer]:
    """Blocks that outlast a busy machine: the first block is a minute, not a second."""
    throttle = settings.throttle.model_copy(update={"base_delay": 60.0})
    live = serve_variant(settings, clock, throttle=throttle)
    yield live
    live.stop()


async def _login(http: httpx.AsyncClient, csrf: str, login: str, password: str) -> int:
    response = await http.post(
        "/api/v1/login",
        json={"login": login, "password": password},
        headers={"X-CSRF-Token": csrf, "X-Forwarded-For": random_ip()},
    )
    return response.status_code


async def test_parallel_wrong_passwords_get_at_most_the_free_failures(
    slow_server: LiveServer, ctx: Context, person: Person
) -> None:
    api = Api(slow_server.url)
    try:
        csrf = await api.csrf()
        statuses = Counter(
            await asyncio.gather(
                *(_login(api.http, csrf, person.phone, WRONG) for _ in range(PARALLEL))
            )
        )
    finally:
        await api.close()
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= ctx.settings.throttle.free_failures, statuses
    assert statuses[429] >= PARALLEL - ctx.settings.throttle.free_failures, statuses


async def test_parallel_wrong_old_passwords_get_at_most_the_free_failures(
    slow_server: LiveServer, ctx: Context, person: Person
) -> None:
    api = Api(slow_server.url)
    try:
        assert (await api.login(person.phone, person.password)).status_code == 200
        await api.csrf()
        body = {"old_password": WRONG, "new_password": NEW, "new_password_repeat": NEW}
        responses = await asyncio.gather(
            *(api.post("/api/v1/me/password", body) for _ in range(PARALLEL))
        )
    finally:
        await api.close()
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {403, 429}, statuses
    assert statuses[403] <= ctx.settings.throttle.free_failures, statuses


# --- the bounded argon2 queue ------------------------------------------------------------------


async def test_hashes_beyond_the_queue_are_refused_at_once() -> None:
    passwords = PasswordService(
        Argon2Settings(time_cost=1, memory_cost_kib=64, pool_size=1, max_waiting=2)
    )
    try:
        stored = await passwords.hash("Some-Password-1")
        results = await asyncio.gather(
            *(passwords.verify(stored, "Some-Password-1") for _ in range(10)),
            return_exceptions=True,
        )
    finally:
        passwords.close()
    busy = [r for r in results if type(r).__name__ == "ServerBusy"]
    assert results[:3] == [True, True, True]  # one running, two waiting
    assert len(busy) == 7
    assert all(getattr(r, "retry_after", None) == 2 for r in busy)


class HeldPasswords(PasswordService):
    """Hashing that waits, in its pool thread, until the test lets it go on."""

    def __init__(self, settings: Argon2Settings) -> None:
        super().__init__(settings)
        self.entered = threading.Event()
        self.go_on = threading.Event()

    def _check(self, stored: str, password: str) -> bool:
        self.entered.set()
        self.go_on.wait(30)
        return super()._check(stored, password)


async def test_a_cancelled_request_keeps_its_hash_counted_until_the_hash_ends() -> None:
    passwords = HeldPasswords(
        Argon2Settings(time_cost=1, memory_cost_kib=64, pool_size=1, max_waiting=0)
    )
    try:
        stored = passwords._hasher.hash("Some-Password-1")
        first = asyncio.ensure_future(passwords.verify(stored, "Some-Password-1"))
        await asyncio.to_thread(passwords.entered.wait, 10)
        first.cancel()  # the client went away; its hash still runs in the pool
        with pytest.raises(asyncio.CancelledError):
            await first
        with pytest.raises(ServerBusy):
            await passwords.verify(stored, "Some-Password-1")  # no room: it is still there
        passwords.go_on.set()
        for _ in range(100):  # the hash ends, and with it its place in the queue
            if passwords._in_pool == 0:
                break
            await asyncio.sleep(0.05)
        assert await passwords.verify(stored, "Some-Password-1") is True
    finally:
        passwords.go_on.set()
        passwords.close()


@pytest.fixture(scope="module")
def busy_server(settings: Settings, clock: OffsetClock) -> Iterator[LiveServer]:
    argon2 = settings.argon2.model_copy(update={"pool_size": 1, "max_waiting": 0})
    live = serve_variant(settings, clock, argon2=argon2)
    yield live
    live.stop()


@pytest.fixture
async def held(busy_server: LiveServer) -> AsyncIterator[HeldPasswords]:
    app_ctx: Context = busy_server.app.state.ctx  # type: ignore[attr-defined]
    original = app_ctx.passwords
    held = HeldPasswords(app_ctx.settings.argon2)
    app_ctx.passwords = held
    yield held
    held.go_on.set()
    app_ctx.passwords = original
    held.close()


async def test_a_full_hashing_queue_answers_503_with_retry_after_in_every_format(
    busy_server: LiveServer, held: HeldPasswords, ctx: Context, person: Person
) -> None:
    first, second = Api(busy_server.url), Api(busy_server.url)
    browser = Browser(busy_server.url)
    try:
        rp: RP = await make_rp(ctx, require_consent=False)
        page = await login_page(browser, auth_params(rp)[0])
        await second.csrf()
        waiting = asyncio.create_task(first.login(person.email, WRONG))
        assert await asyncio.to_thread(held.entered.wait, 20)  # the one worker is taken

        api_answer = await second.login(person.phone, person.password)
        assert api_answer.status_code == 503, api_answer.text
        assert api_answer.headers["retry-after"] == "2"
        assert api_answer.headers["content-type"].startswith("application/problem+json")
        assert api_answer.json()["type"].endswith("/problems/server-busy")

        page_answer = await browser.submit(
            page,
            {"login": person.phone, "password": person.password},
            headers={"X-Forwarded-For": random_ip()},
        )
        assert page_answer.status_code == 503, page_answer.text[:300]
        assert page_answer.headers["retry-after"] == "2"
        assert page_answer.headers["content-type"].startswith("text/html")

        held.go_on.set()
        assert (await waiting).status_code == 401
        # The refused attempts were given back: the owner logs in at once.
        assert (await second.login(person.phone, person.password)).status_code == 200
    finally:
        held.go_on.set()
        await first.close()
        await second.close()
        await browser.close()


# --- a login racing a password change ----------------------------------------------------------


class PausedPasswords(PasswordService):
    """Verification that pauses after argon2 said yes, until the test lets it go on."""

    def __init__(self, settings: Argon2Settings) -> None:
        super().__init__(settings)
        self.verified = asyncio.Event()
        self.go_on = asyncio.Event()

    async def verify(self, stored: str | None, password: str) -> bool:
        ok = await super().verify(stored, password)
        self.verified.set()
        await self.go_on.wait()
        return ok


@pytest.fixture
async def paused_ctx(settings: Settings, clock: OffsetClock) -> AsyncIterator[Context]:
    # Other argon2 parameters than the accounts were hashed with, so the login also rehashes.
    argon2 = settings.argon2.model_copy(update={"time_cost": settings.argon2.time_cost + 1})
    context = Context.build(settings.model_copy(update={"argon2": argon2}), clock)
    context.passwords.close()
    context.passwords = PausedPasswords(argon2)
    yield context
    await context.close()


async def _sessions_of(ctx: Context, person: Person) -> list[BrowserSession]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(BrowserSession).where(BrowserSession.account_id == person.account.id)
        )
        return list(rows.all())


async def _hash_of(ctx: Context, person: Person) -> str:
    async with ctx.db.read() as session:
        account = await session.get(Account, person.account.id)
        assert account is not None
        assert account.password_hash is not None
        return account.password_hash


async def test_a_login_that_verified_the_old_password_before_a_change_starts_no_session(
    ctx: Context, paused_ctx: Context
) -> None:
    person = await make_person(ctx)
    paused = paused_ctx.passwords
    assert isinstance(paused, PausedPasswords)
    login = asyncio.create_task(
        log_in(
            paused_ctx,
            person.phone,
            person.password,
            ip=f"192.0.2.{secrets.randbelow(254) + 1}",
            user_agent=None,
            old_cookie=None,
        )
    )
    await paused.verified.wait()  # the old password is verified, the login not yet written
    await change_password(
        ctx,
        person.account.id,
        old_password=person.password,
        new_password=NEW,
        new_password_repeat=NEW,
        keep_session=None,
        locale="en",
        ip=None,
        client_id=None,
    )
    paused.go_on.set()
    with pytest.raises(InvalidCredentials):
        await login
    assert await _sessions_of(ctx, person) == []
    # The rehash did not write the old password back over the new one.
    assert await ctx.passwords.verify(await _hash_of(ctx, person), NEW)
