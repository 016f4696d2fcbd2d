"""An instance ends sessions, writes the outbox, starts delivering and is stopped before any RP
has answered. It hands its unfinished jobs back, so another instance's worker delivers every
logout token at once (not a minute later, when the leases would run out), and nothing is
delivered twice. (A worker killed outright: tests/integration/test_job_workers.py.)"""

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

LEASE = 60.0


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


@pytest.fixture
def doomed(settings: Settings, clock: OffsetClock, migrated: str) -> Iterator[LiveServer]:
    """A second instance on the same database with no background worker: what it does not
    deliver itself, only the main server's worker can. Its own attempts wait long for an
    answer, so they are surely still in flight when it is stopped, without grace; its leases
    are long, so only handing the jobs back lets the other worker have them in time."""
    patient = settings.logout.model_copy(update={"request_timeout": 30.0, "lease": LEASE})
    no_grace = settings.jobs.model_copy(update={"stop_grace": 0.0})
    instance = serve_instance(
        settings.model_copy(update={"logout": patient, "jobs": no_grace}), clock, run_jobs=False
    )
    yield instance
    instance.stop()


async def test_instance_stopped_mid_delivery_hands_its_jobs_back_and_sends_none_twice(
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
        # The page waited at most inline_wait; on a loaded machine a POST may still be on its way.
        await wait_until(
            lambda: tax.fake.attempts == 2 and pension.fake.attempts == 1,
            "the doomed instance's attempts to be in flight",
        )
    finally:
        await laptop.close()
        await phone.close()

    for live in (tax, pension):
        live.fake.delay = 0.0
    doomed.stop()  # no grace: its in-flight deliveries are cut off and handed back
    for live in (tax, pension):
        assert live.fake.received == []

    def all_told() -> bool:
        return len(tax.fake.received) == 2 and len(pension.fake.received) == 1

    took = await wait_until(all_told, "every logout token, handed back", within=LEASE / 2)
    assert took < LEASE / 2
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
