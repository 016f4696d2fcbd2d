"""The job queue's guarantees, on its own: a job that raises or cannot be opened fails alone, a
late result never overwrites, a deadline settles a job, two workers never run one job twice.
Each test uses a kind of its own, which no running server claims."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import update

from idp.context import Context
from idp.db.engine import Database
from idp.db.models import QueuedJob
from idp.jobs import repository
from idp.jobs.queue import DONE, FAILED, PENDING, RUNNING, Outcome, enqueue
from idp.settings import Settings
from tests.support.job_kit import Recorder, job_row, job_rows, new_kind, runner_for
from tests.support.logout_kit import idp_env, run_idp, wait_until


async def _enqueue(ctx: Context, kind: str, count: int, **options: object) -> list[object]:
    async with ctx.db.transaction() as session:
        return [
            enqueue(session, kind, {"n": n}, deadline_in=600, **options).id  # type: ignore[arg-type]
            for n in range(count)
        ]


async def test_a_job_that_raises_fails_that_try_alone_and_the_rest_run_once(
    ctx: Context,
) -> None:
    kind = new_kind()
    await _enqueue(ctx, kind, 5)
    handler = Recorder(raise_for={2})
    runner = runner_for(ctx.db, ctx.keyring, kind, handler)
    try:
        assert await runner.run_due(kind) == 5
    finally:
        await runner.stop()
    assert sorted(n for _, n in handler.calls) == [0, 1, 2, 3, 4]
    rows = {json.loads(r.payload)["n"]: r for r in await job_rows(ctx.db, kind)}
    assert {n: rows[n].status for n in rows} == {0: DONE, 1: DONE, 2: PENDING, 3: DONE, 4: DONE}
    assert rows[2].attempts == 1
    assert rows[2].last_error == "RuntimeError: boom 2"
    assert rows[2].claim_token is None


async def test_a_job_whose_payload_cannot_be_opened_fails_alone(ctx: Context) -> None:
    kind = new_kind()
    damaged, healthy = await _enqueue(ctx, kind, 2, keyring=ctx.keyring)
    async with ctx.db.transaction() as session:
        await session.execute(
            update(QueuedJob).where(QueuedJob.id == damaged).values(payload=b"not sealed")
        )
    handler = Recorder()
    runner = runner_for(ctx.db, ctx.keyring, kind, handler)
    try:
        await runner.run_due(kind)
    finally:
        await runner.stop()
    assert handler.calls == [("recorder", 1)]
    bad, good = await job_row(ctx.db, damaged), await job_row(ctx.db, healthy)  # type: ignore[arg-type]
    assert (bad.status, bad.result) == (FAILED, "unreadable")
    assert good.status == DONE


async def test_a_late_result_never_overwrites_a_newer_claim_or_a_settled_job(
    ctx: Context,
) -> None:
    kind = new_kind()
    [job_id] = await _enqueue(ctx, kind, 1)
    async with ctx.db.transaction() as session:
        # A lease already over: the first worker stalled (or its clock is behind).
        [stalled] = await repository.claim(session, ctx.keyring, kind, 10, lease=-1.0)
    async with ctx.db.transaction() as session:
        [current] = await repository.claim(session, ctx.keyring, kind, 10, lease=60.0)
    assert current.id == stalled.id
    assert current.claim_token != stalled.claim_token
    assert current.attempts == 2

    async with ctx.db.transaction() as session:
        assert await repository.settle(session, stalled, Outcome.done(), 1.0) is None
    row = await job_row(ctx.db, job_id)  # type: ignore[arg-type]
    assert (row.status, row.claim_token, row.result) == (RUNNING, current.claim_token, None)

    async with ctx.db.transaction() as session:
        settled = await repository.settle(session, current, Outcome.failed("refused"), 1.0)
    assert settled is not None
    assert settled.status == FAILED
    async with ctx.db.transaction() as session:
        assert await repository.settle(session, stalled, Outcome.done(), 1.0) is None
        assert await repository.settle(session, current, Outcome.retry("again"), 1.0) is None
    row = await job_row(ctx.db, job_id)  # type: ignore[arg-type]
    assert (row.status, row.result, row.last_error) == (FAILED, "error", "refused")


async def test_a_worker_past_its_lease_does_not_overwrite_the_one_that_took_over(
    ctx: Context, settings: Settings
) -> None:
    kind = new_kind()
    [job_id] = await _enqueue(ctx, kind, 1)
    gate = asyncio.Event()
    slow = Recorder(name="slow", gate=gate, outcome=Outcome.failed("too late"))
    quick = Recorder(name="quick")
    other_db = Database(settings.database_url)
    first = runner_for(ctx.db, ctx.keyring, kind, slow, lease=0.5)
    second = runner_for(other_db, ctx.keyring, kind, quick, lease=30.0)
    try:
        stalled = asyncio.create_task(first.run_due(kind))
        await wait_until(lambda: slow.calls, "the first worker to start")
        second.start()
        await wait_until(lambda: quick.calls, "the second worker to take over after the lease")

        async def settled() -> bool:
            return (await job_row(ctx.db, job_id)).status == DONE  # type: ignore[arg-type]

        await wait_until(settled, "the second worker's result")
        gate.set()  # the first worker's answer arrives now, too late
        await stalled
    finally:
        gate.set()
        await first.stop()
        await second.stop()
        await other_db.dispose()
    row = await job_row(ctx.db, job_id)  # type: ignore[arg-type]
    assert (row.status, row.result, row.last_error, row.attempts) == (DONE, "done", None, 2)


async def test_a_job_past_its_deadline_is_failed_without_running_and_listed(
    ctx: Context, settings: Settings
) -> None:
    kind = new_kind()
    async with ctx.db.transaction() as session:
        late = enqueue(session, kind, {"n": 0}, deadline_in=-1.0, ref="rp-overdue").id
        enqueue(session, kind, {"n": 1}, deadline_in=600)
    handler = Recorder()
    runner = runner_for(ctx.db, ctx.keyring, kind, handler)
    try:
        await runner.run_due(kind)
    finally:
        await runner.stop()
    assert handler.calls == [("recorder", 1)]
    row = await job_row(ctx.db, late)
    assert (row.status, row.result, row.attempts) == (FAILED, "expired", 0)

    code, out, err = await run_idp(
        idp_env(settings), "jobs", "list", "--status", "failed", "--kind", kind, "--json"
    )
    assert code == 0, err
    [listed] = json.loads(out)["jobs"]
    assert listed["id"] == str(late)
    assert (listed["ref"], listed["result"], listed["last_error"]) == (
        "rp-overdue",
        "expired",
        "deadline passed",
    )
    assert "payload" not in listed


async def test_two_workers_never_run_one_job_twice(ctx: Context, settings: Settings) -> None:
    kind = new_kind()
    total = 300
    await _enqueue(ctx, kind, total)
    handlers = [Recorder(name="a", pause=0.002), Recorder(name="b", pause=0.002)]
    databases = [Database(settings.database_url), Database(settings.database_url)]
    runners = [
        runner_for(db, ctx.keyring, kind, handler, batch_size=7, concurrency=7)
        for db, handler in zip(databases, handlers, strict=True)
    ]
    try:
        for runner in runners:
            runner.start()

        async def all_done() -> bool:
            return all(r.status == DONE for r in await job_rows(ctx.db, kind))

        await wait_until(all_done, "every job to be done", within=120)
    finally:
        for runner in runners:
            await runner.stop()
        for db in databases:
            await db.dispose()
    runs = [n for handler in handlers for _, n in handler.calls]
    assert sorted(runs) == list(range(total))  # each job exactly once
    assert all(r.attempts == 1 for r in await job_rows(ctx.db, kind))
