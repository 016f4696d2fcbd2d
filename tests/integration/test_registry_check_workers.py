"""Registry checks in ``idp worker`` processes, through the ``http`` verifier against the
registry simulator: two workers on one database never submit one check twice, and a worker
killed after the registry took a request (before it could record it) leaves nothing stuck: after
the lease another worker resubmits under the same idempotency key, gets the same reference and
finishes the check."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.context import Context
from idp.jobs.queue import RUNNING
from idp.settings import Settings
from tests.support.checks_kit import (
    check_row,
    checks_of,
    level_history,
    level_of,
    new_subject,
    start,
    wait_settled,
)
from tests.support.job_kit import job_row
from tests.support.live import LiveServer, free_port
from tests.support.logout_kit import (
    IDP,
    create_scratch_database,
    drop_scratch_database,
    idp_env,
    wait_until,
)
from tests.support.registry_kit import configure, reset, stats

# As in test_job_workers.py: the first worker is killed well inside its run timeout (80% of
# the lease), and the second takes over after it.
LEASE = 5.0


@dataclass
class Scratch:
    ctx: Context
    settings: Settings


@pytest.fixture
async def scratch(settings: Settings, tmp_path: Path, migrated: str) -> AsyncIterator[Scratch]:
    url = await create_scratch_database(settings.database_url, tmp_path)
    own = settings.model_copy(update={"database_url": url, "var_dir": tmp_path})
    ctx = Context.build(own)
    yield Scratch(ctx, own)
    await ctx.close()
    await drop_scratch_database(url)


def worker_env(settings: Settings, registry_url: str, lease: float = LEASE) -> dict[str, str]:
    return idp_env(
        settings,
        IDP_REGISTRIES__HTTP__BASE_URL=registry_url,
        IDP_REGISTRIES__HTTP__RETRIES="0",
        IDP_REGISTRIES__LEASE=str(lease),
        IDP_REGISTRIES__POLL_INTERVAL="0.1",
        IDP_REGISTRIES__ANSWER_WAIT_BASE="0.1",
        IDP_REGISTRIES__ANSWER_WAIT_MAX="0.3",
        IDP_REGISTRIES__BACKOFF_BASE="0.2",
        IDP_REGISTRIES__BACKOFF_MAX="0.5",
        IDP_NOTIFY__EMAIL_BACKEND="dev",
        IDP_NOTIFY__SMS_BACKEND="dev",
    )


async def start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        IDP, "worker", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert line.strip() == b"idp worker: running", line
    return process


async def stop_workers(*processes: asyncio.subprocess.Process | None) -> None:
    for process in processes:
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()


async def test_two_workers_never_submit_one_check_twice(
    scratch: Scratch, registry_sim: LiveServer
) -> None:
    await reset(registry_sim.url)
    await configure(registry_sim.url, latency=0.3)  # a few polls each: the workers interleave
    ctx = scratch.ctx
    subjects = [await new_subject(ctx) for _ in range(25)]
    ids = [i for subject in subjects for i in await start(ctx, subject)]
    # A generous lease: on a loaded machine a try cut off at 80% of a short one would submit
    # again (under the same key, which the registry answers with the same reference), and this
    # test is about two workers never doing the same work, not about that recovery.
    env = worker_env(scratch.settings, registry_sim.url, lease=60.0)
    workers: list[asyncio.subprocess.Process | None] = []
    try:
        workers = list(await asyncio.gather(start_worker(env), start_worker(env)))
        for subject in subjects:
            await wait_settled(ctx, subject.account_id, within=90)
    finally:
        await stop_workers(*workers)
    found = await stats(registry_sim.url)
    assert {key: found["by_key"].get(key) for key in map(str, ids)} == dict.fromkeys(
        map(str, ids), 1
    )
    assert found["submits"] == {"person": 25, "document": 25, "inn": 0}
    for subject in subjects:
        assert await level_of(ctx, subject.account_id) == "standard"
        assert len(await level_history(ctx, subject.account_id)) == 1


class HoldingProxy:
    """Forwards to the simulator; while holding, a submit reaches the registry but its answer
    is kept from the worker (the worker dies before it hears the reference)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.references: dict[str, str] = {}  # idempotency key → reference the registry gave
        self._released = threading.Event()
        self.server = LiveServer(
            Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])]),
            free_port(),
        ).start()
        self.url = self.server.url

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    async def _forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with httpx.AsyncClient(timeout=30) as client:
            upstream = await client.request(
                request.method,
                f"{self.target}/{request.path_params['path']}",
                content=await request.body(),
                headers=headers,
            )
        key = request.headers.get("idempotency-key")
        if key and upstream.status_code in (200, 202):
            self.references.setdefault(key, upstream.json()["reference"])
            await asyncio.to_thread(self._released.wait, 60)
        return Response(
            upstream.content,
            upstream.status_code,
            media_type=upstream.headers.get("content-type"),
        )


async def test_a_worker_killed_after_its_submit_leaves_nothing_stuck(
    scratch: Scratch, registry_sim: LiveServer
) -> None:
    await reset(registry_sim.url)
    ctx = scratch.ctx
    subject = await new_subject(ctx)
    ids = await start(ctx, subject)
    proxy = HoldingProxy(registry_sim.url)
    proxy.hold()
    env = worker_env(scratch.settings, proxy.url)
    first = second = None
    try:
        first = await start_worker(env)
        await wait_until(
            lambda: len(proxy.references) == len(ids), "the registry to take both", within=30
        )
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        for check_id in ids:  # the dead worker recorded nothing: still queued, still leased
            row = await check_row(ctx, check_id)
            assert (row.state, row.reference) == ("queued", None)
            assert (await job_row(ctx.db, row.job_id)).status == RUNNING  # type: ignore[arg-type]

        proxy.release()
        second = await start_worker(env)
        await wait_settled(ctx, subject.account_id, within=60)
    finally:
        proxy.release()
        await stop_workers(first, second)
        proxy.server.stop()
    for check in await checks_of(ctx, subject.account_id):
        assert check.state == "succeeded"
        assert check.reference == proxy.references[str(check.id)]  # the same request
        job = await job_row(ctx.db, check.job_id)  # type: ignore[arg-type]
        assert job.attempts >= 2  # the dead worker's try and the next one's
    found = await stats(registry_sim.url)
    assert found["submits"] == {"person": 1, "document": 1, "inn": 0}  # one request per check
    # Each check submitted by the dead worker and again by the next (more only if a loaded
    # machine cut a try off): always under its own key, so always the same request.
    assert all(found["by_key"][k] >= 2 for k in map(str, ids)), found["by_key"]
    assert await level_of(ctx, subject.account_id) == "standard"
