"""Worker processes and instances: an ``idp worker`` killed with SIGKILL mid-job leaves the job
claimable once its lease runs out, and another worker delivers it (the same logout token); two
instances whose clocks are minutes apart agree on what is due and whose lease it is."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from idp.background import build_registry
from idp.clock import FrozenClock
from idp.context import Context
from idp.jobs.queue import DONE, RUNNING, JobRef, enqueue
from idp.jobs.runner import JobRunner
from idp.sessions.service import BACKCHANNEL_LOGOUT
from idp.settings import Settings
from tests.support.job_kit import Endpoint, job_row
from tests.support.logout_kit import (
    IDP,
    create_scratch_database,
    drop_scratch_database,
    idp_env,
    stays,
    wait_until,
)

# Long enough that a loaded machine kills the first worker well inside its run timeout (80% of
# the lease, after which the worker would record the try itself); short enough to wait out.
LEASE = 5.0


@dataclass
class Scratch:
    settings: Settings
    url: str


@pytest.fixture
async def scratch(settings: Settings, tmp_path: Path, migrated: str) -> AsyncIterator[Scratch]:
    """A database of its own: no running test server takes these jobs."""
    url = await create_scratch_database(settings.database_url, tmp_path)
    logout = settings.logout.model_copy(update={"lease": LEASE, "request_timeout": 30.0})
    own = settings.model_copy(update={"database_url": url, "var_dir": tmp_path, "logout": logout})
    yield Scratch(own, url)
    await drop_scratch_database(url)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    rp = Endpoint()
    yield rp
    rp.stop()


def _logout_job(session: object, uri: str, iat: datetime) -> JobRef:
    return enqueue(
        session,  # type: ignore[arg-type]
        BACKCHANNEL_LOGOUT,
        {
            "client_id": "rp-1",
            "uri": uri,
            "sub": "sub-1",
            "sid": "sid-1",
            "alg": "ES256",
            "jti": "jti-first",
            "iat": int(iat.timestamp()),
        },
        deadline_in=3600,
        ref="rp-1",
    )


async def _start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        IDP, "worker", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert line.strip() == b"idp worker: running", line
    return process


async def test_a_worker_killed_mid_job_leaves_it_to_the_next_worker_after_the_lease(
    scratch: Scratch, endpoint: Endpoint
) -> None:
    env = idp_env(
        scratch.settings,
        IDP_DATABASE_URL=scratch.url,
        IDP_LOGOUT__LEASE=str(LEASE),
        IDP_LOGOUT__POLL_INTERVAL="0.1",
        IDP_LOGOUT__REQUEST_TIMEOUT="30",
        IDP_LOGOUT__BLOCK_PRIVATE_ADDRESSES="false",
        IDP_NOTIFY__EMAIL_BACKEND="dev",
        IDP_NOTIFY__SMS_BACKEND="dev",
    )
    ctx = Context.build(scratch.settings)
    first = second = None
    try:
        async with ctx.db.transaction() as session:
            job = _logout_job(session, endpoint.uri, ctx.clock.now())
        endpoint.hold()  # the first attempt never gets an answer
        first = await _start_worker(env)
        await wait_until(lambda: len(endpoint.jtis) == 1, "the first worker to post", within=30)
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        row = await job_row(ctx.db, job.id)
        assert (row.status, row.attempts) == (RUNNING, 1)  # still leased to the dead worker

        endpoint.release()
        second = await _start_worker(env)

        async def delivered() -> bool:
            return (await job_row(ctx.db, job.id)).status == DONE

        await wait_until(delivered, "the second worker to deliver after the lease", within=30)
        row = await job_row(ctx.db, job.id)
        assert (row.attempts, row.result) == (2, "delivered")
        # The RP got the same token twice, so it can tell the repeat by its jti.
        assert endpoint.jtis == ["jti-first", "jti-first"]
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
        await ctx.close()


async def test_clocks_minutes_apart_do_not_change_what_is_due_or_whose_lease_it_is(
    scratch: Scratch, endpoint: Endpoint
) -> None:
    now = datetime.now(UTC)
    ahead = Context.build(scratch.settings, FrozenClock(now + timedelta(minutes=10)))
    behind = Context.build(scratch.settings, FrozenClock(now - timedelta(minutes=10)))
    await behind.keys.ensure_keys()  # keys valid for both clocks
    runners = [JobRunner(c.db, c.keyring, build_registry(c)) for c in (ahead, behind)]
    # The first attempt is slow (longer than the clocks' difference would allow a lease to
    # look valid on the instance that is ahead) and fails; the second succeeds.
    endpoint.delay = 1.0
    endpoint.fail_first = 1
    try:
        async with ahead.db.transaction() as session:
            job = _logout_job(session, endpoint.uri, ahead.clock.now())
        # The instance whose clock is behind finds the job due at once, not in ten minutes.
        runners[1].start()
        await wait_until(lambda: len(endpoint.jtis) == 1, "the first attempt", within=5)
        runners[0].start()  # and the one ahead does not take over the running job

        async def delivered() -> bool:
            return (await job_row(ahead.db, job.id)).status == DONE

        await wait_until(delivered, "the retry after the backoff", within=10)
        await stays(lambda: len(endpoint.jtis) == 2, "no third attempt", seconds=LEASE + 0.5)
        row = await job_row(ahead.db, job.id)
        assert (row.attempts, row.result) == (2, "delivered")
        assert endpoint.jtis == ["jti-first", "jti-first"]
    finally:
        for runner in runners:
            await runner.stop()
        await ahead.close()
        await behind.close()
