"""The kill test: an instance ends sessions, writes the outbox, starts delivering and dies
before any RP has answered. Another instance's worker delivers every logout token once the
lease runs out, and nothing is delivered twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from idp.clock import OffsetClock
from idp.context import Context
from idp.settings import Settings
from tests.support.browser import Browser
from tests.support.factories import Person
from tests.support.live import LiveServer
from tests.support.logout_kit import (
    RPFarm,
    deliveries,
    serve_instance,
    sessions_of_client,
    sign_in,
    stays,
    wait_until,
)


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


@pytest.fixture
def doomed(settings: Settings, clock: OffsetClock, migrated: str) -> Iterator[LiveServer]:
    """A second instance on the same database with no background worker: what it does not
    deliver itself, only the main server's worker can. Its own attempts wait long for an
    answer, so they are surely still in flight when it is stopped."""
    patient = settings.logout.model_copy(update={"request_timeout": 30.0})
    instance = serve_instance(
        settings.model_copy(update={"logout": patient}), clock, run_jobs=False
    )
    yield instance
    instance.stop()


async def test_instance_killed_mid_delivery_loses_no_logout_and_sends_none_twice(
    ctx: Context,
    settings: Settings,
    clock: OffsetClock,
    doomed: LiveServer,
    person: Person,
    farm: RPFarm,
) -> None:
    # Each RP hangs past the request timeout on the attempts made by the doomed instance (and
    # then answers 503, so an attempt cut off by the kill is never counted as received).
    tax = await farm.add(name="Налоговая служба", delay=2.5, fail_first=2)
    pension = await farm.add(name="Пенсионный фонд", delay=2.5, fail_first=1)
    laptop, phone = Browser(doomed.url), Browser(doomed.url)
    try:
        await sign_in(laptop, tax.rp, person)
        await sign_in(laptop, pension.rp, person)
        await sign_in(phone, tax.rp, person)
        sessions = {s.id: s.sid for s in await sessions_of_client(ctx, tax.client_id)}
        assert len(sessions) == 2
        [laptop_session] = await sessions_of_client(ctx, pension.client_id)

        csrf = (await laptop.get("/api/v1/me/csrf")).json()["csrf_token"]
        ended = await laptop.http.delete("/api/v1/me/sessions", headers={"X-CSRF-Token": csrf})
        assert ended.status_code == 200, ended.text
        assert ended.json() == {"ended": 2}
        assert tax.fake.attempts == 2  # in flight
        assert pension.fake.attempts == 1
    finally:
        await laptop.close()
        await phone.close()

    doomed.stop()  # the kill: its in-flight deliveries die with it
    for live in (tax, pension):
        live.fake.delay = 0.0
        rows = await deliveries(ctx, live.client_id)
        assert [r.status for r in rows] == ["pending"] * len(rows)
        assert all(r.attempts == 1 for r in rows)
        assert all(r.next_attempt_at > ctx.clock.now() for r in rows)  # still leased
        assert live.fake.received == []

    clock.advance(settings.logout.lease)

    def all_told() -> bool:
        return len(tax.fake.received) == 2 and len(pension.fake.received) == 1

    await wait_until(all_told, "every logout token after the lease ran out")
    await stays(
        lambda: all_told() and tax.fake.attempts == 4 and pension.fake.attempts == 2,
        "no logout token is delivered twice",
        seconds=3.0,  # past the doomed attempts' own answers and several worker polls
    )
    assert sorted(r.claims["sid"] for r in tax.fake.received) == sorted(sessions.values())
    assert [r.claims["sid"] for r in pension.fake.received] == [laptop_session.sid]
    for live in (tax, pension):
        assert live.fake.problems == []
        assert {r.claims["sub"] for r in live.fake.received} == {person.account.sub}
        rows = await deliveries(ctx, live.client_id)
        assert [(r.status, r.attempts) for r in rows] == [("delivered", 2)] * len(rows)
