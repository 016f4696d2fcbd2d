"""Expiry is a logout too: the sweeper ends sessions that ran out (idle or absolute timeout) with
the same back-channel fan-out and refresh token revocation as a logout.

Each test runs its own instance, with a sweep every 0.2 s and short session limits, on its own
scratch database, so moving the clock expires nobody else's sessions. The RP servers check the
logout token's ``iat`` against the real time (5 minutes of skew allowed), so the clock is only
moved as far as a limit needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from idp.app import create_app
from idp.clock import OffsetClock
from idp.context import Context
from idp.settings import SessionSettings, Settings
from tests.support.browser import Browser
from tests.support.factories import make_person
from tests.support.live import LiveServer, free_port
from tests.support.logout_kit import (
    RPFarm,
    create_scratch_database,
    drop_scratch_database,
    refresh,
    session_record,
    sessions_of_client,
    sign_in,
    stays,
    wait_until,
)

SWEEP_INTERVAL = 0.2


@dataclass
class Instance:
    settings: Settings
    server: LiveServer
    ctx: Context
    farm: RPFarm
    browser: Browser
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


StartInstance = Callable[[SessionSettings], Awaitable[Instance]]


@pytest.fixture
async def start_instance(
    settings: Settings, clock: OffsetClock, tmp_path: Path, migrated: str
) -> AsyncIterator[StartInstance]:
    started: list[tuple[Instance, str]] = []

    async def start(sessions: SessionSettings) -> Instance:
        url = await create_scratch_database(settings.database_url, tmp_path)
        port = free_port()
        own = settings.model_copy(
            update={
                "issuer": f"http://127.0.0.1:{port}",
                "database_url": url,
                "var_dir": tmp_path,
                "sessions": sessions,
                "logout": settings.logout.model_copy(update={"sweep_interval": SWEEP_INTERVAL}),
            }
        )
        server = LiveServer(create_app(own, clock=clock), port).start()
        ctx = Context.build(own, clock)
        instance = Instance(own, server, ctx, RPFarm(ctx, server.url), Browser(server.url))
        started.append((instance, url))
        return instance

    yield start
    for instance, url in started:
        await instance.browser.close()
        await instance.farm.close()
        instance.server.stop()
        await instance.ctx.close()
        await drop_scratch_database(url)


async def test_idle_session_is_swept_and_every_rp_is_told(
    start_instance: StartInstance, clock: OffsetClock
) -> None:
    idle_ttl = 60
    instance = await start_instance(SessionSettings(idle_ttl=idle_ttl))
    person = await make_person(instance.ctx)
    tax = await instance.farm.add(name="Налоговая служба")
    pension = await instance.farm.add(name="Пенсионный фонд")
    tokens = await sign_in(instance.browser, tax.rp, person)
    await sign_in(instance.browser, pension.rp, person)
    [session] = await sessions_of_client(instance.ctx, tax.client_id)

    await stays(
        lambda: tax.fake.attempts == pension.fake.attempts == 0,
        "a live session is left alone by the sweeper",
        seconds=5 * SWEEP_INTERVAL,
    )
    clock.advance(idle_ttl + 1)

    await wait_until(
        lambda: len(tax.fake.received) == len(pension.fake.received) == 1,
        "logout tokens for the idle session",
    )
    for live in (tax, pension):
        assert live.fake.problems == []
        assert live.fake.received[0].claims["sid"] == session.sid
        assert live.fake.received[0].claims["sub"] == person.account.sub
    ended = await session_record(instance.ctx, session.id)
    assert ended.ended_at is not None
    assert ended.ended_reason == "expired"
    revoked = await refresh(instance.browser.http, tax.rp, tokens["refresh_token"])
    assert revoked.status_code == 400, revoked.text
    assert revoked.json()["error"] == "invalid_grant"


async def test_session_past_its_absolute_lifetime_is_swept_and_rps_are_told(
    start_instance: StartInstance, clock: OffsetClock
) -> None:
    absolute_ttl = 300
    # Start and log in half a minute "ago" (the signing keys too: they must be active then),
    # so reaching the absolute limit moves the clock only 271 s past real time (the RP allows
    # 300 s of skew on iat).
    clock.advance(-30)
    instance = await start_instance(SessionSettings(idle_ttl=3600, absolute_ttl=absolute_ttl))
    person = await make_person(instance.ctx)
    tax = await instance.farm.add()
    await sign_in(instance.browser, tax.rp, person)
    [session] = await sessions_of_client(instance.ctx, tax.client_id)
    clock.reset()
    await stays(lambda: tax.fake.attempts == 0, "not yet expired", seconds=5 * SWEEP_INTERVAL)

    clock.advance(absolute_ttl - 30 + 1)

    await wait_until(lambda: len(tax.fake.received) == 1, "a logout token for the old session")
    assert tax.fake.problems == []
    assert tax.fake.received[0].claims["sid"] == session.sid
    ended = await session_record(instance.ctx, session.id)
    assert ended.ended_reason == "expired"
    assert ended.ended_at is not None
    assert (ended.ended_at - ended.last_seen_at).total_seconds() < 3600  # not an idle timeout
