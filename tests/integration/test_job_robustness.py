"""The job queue when things go wrong around a job rather than in it: a result the database will
not take, a result that comes after the lease, a worker that stops, a try that runs too long, a
payload that lacks a field, more immediate runs than a kind may run at once, two sweeps at once.
Each test uses a kind of its own, which no running server claims."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, text, update

from idp.context import Context
from idp.db.engine import Database
from idp.db.models import QueuedJob
from idp.jobs import repository
from idp.jobs.dbtime import db_now
from idp.jobs.errors import ConfigurationError
from idp.jobs.queue import DONE, FAILED, PENDING, RUNNING, ClaimedJob, Outcome, enqueue
from idp.jobs.registry import KindPolicy, Registry
from idp.jobs.runner import JobRunner
from idp.oidc.logout.backchannel import BackchannelHandler
from idp.sessions.service import BACKCHANNEL_LOGOUT
from idp.settings import Settings
from tests.support.job_kit import (
    Endpoint,
    Recorder,
    job_row,
    job_rows,
    new_kind,
    policy,
    runner_for,
)
from tests.support.logout_kit import idp_env, run_idp, wait_until


async def _enqueue(ctx: Context, kind: str, payloads: list[dict[str, object]]) -> list[uuid.UUID]:
    async with ctx.db.transaction() as session:
        return [enqueue(session, kind, p, deadline_in=600).id for p in payloads]


@dataclass
class Scripted:
    """A handler whose answer for each job (by the payload's ``n``) the test chooses."""

    script: dict[int, Callable[[], Awaitable[Outcome]]]
    calls: list[int] = field(default_factory=list)

    async def run(self, job: ClaimedJob) -> Outcome:
        n = int(job.value("n"))
        self.calls.append(n)
        return await self.script[n]()

    async def close(self) -> None:
        return None


def answer(outcome: Outcome) -> Callable[[], Awaitable[Outcome]]:
    async def run() -> Outcome:
        return outcome

    return run


def after(event: asyncio.Event, outcome: Outcome) -> Callable[[], Awaitable[Outcome]]:
    async def run() -> Outcome:
        await event.wait()
        return outcome

    return run


def runner_with(ctx: Context, kind: str, handler: object, **changes: object) -> JobRunner:
    registry = Registry()
    registry.register(kind, handler, policy(**changes))  # type: ignore[arg-type]
    return JobRunner(ctx.db, ctx.keyring, registry)


# --- results the database will not take ------------------------------------------------------


async def test_reasons_with_nul_control_characters_or_huge_size_are_written_with_the_others(
    ctx: Context,
) -> None:
    kind = new_kind()
    ids = await _enqueue(ctx, kind, [{"n": n} for n in range(4)])
    gate = asyncio.Event()
    handler = Scripted(
        {
            0: after(gate, Outcome.done()),
            1: after(gate, Outcome.retry("bad\x00reason\x1b[31m\nhere")),  # PostgreSQL refuses NUL
            2: after(gate, Outcome.failed("x" * 100_000)),
            3: after(gate, Outcome.done()),
        }
    )
    runner = runner_with(ctx, kind, handler)
    try:
        run = asyncio.create_task(runner.run_due(kind))
        await wait_until(lambda: len(handler.calls) == 4, "every job to start")
        gate.set()  # all four finish together: their results are written as one batch
        await run
    finally:
        await runner.stop()
    rows = [await job_row(ctx.db, job_id) for job_id in ids]
    assert [r.status for r in rows] == [DONE, PENDING, FAILED, DONE]
    assert rows[1].last_error == "bad reason [31m here"
    assert rows[2].last_error == "x" * 500
    assert all(r.claim_token is None for r in rows)


@pytest.fixture
async def poisoned_ref(ctx: Context) -> AsyncIterator[str]:
    """A job ``ref`` whose settling the database itself refuses (a trigger), whatever is
    written: the kind of failure that sanitising cannot foresee."""
    ref = f"poison-{uuid.uuid4().hex[:8]}"
    name = ref.replace("-", "_")
    condition = f"NEW.ref = '{ref}' AND NEW.status <> 'running'"
    if ctx.settings.is_sqlite:
        create = [
            f"CREATE TRIGGER {name} BEFORE UPDATE ON jobs WHEN {condition} "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        ]
        drop = [f"DROP TRIGGER {name}"]
    else:
        create = [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'poisoned'; END $$",
            f"CREATE TRIGGER {name} BEFORE UPDATE ON jobs FOR EACH ROW WHEN ({condition}) "
            f"EXECUTE FUNCTION {name}()",
        ]
        drop = [f"DROP TRIGGER {name} ON jobs", f"DROP FUNCTION {name}()"]
    async with ctx.db.transaction() as session:
        for statement in create:
            await session.execute(text(statement))
    yield ref
    async with ctx.db.transaction() as session:
        for statement in drop:
            await session.execute(text(statement))


async def test_a_result_that_cannot_be_written_does_not_lose_the_others_of_its_batch(
    ctx: Context, poisoned_ref: str
) -> None:
    kind = new_kind()
    async with ctx.db.transaction() as session:
        healthy = [enqueue(session, kind, {"n": n}, deadline_in=600).id for n in (0, 2)]
        poisoned = enqueue(session, kind, {"n": 1}, deadline_in=600, ref=poisoned_ref).id
    gate = asyncio.Event()
    handler = Scripted({n: after(gate, Outcome.done()) for n in range(3)})
    runner = runner_with(ctx, kind, handler)
    try:
        run = asyncio.create_task(runner.run_due(kind))
        await wait_until(lambda: len(handler.calls) == 3, "every job to start")
        gate.set()
        await run
    finally:
        await runner.stop()
    assert [(await job_row(ctx.db, i)).status for i in healthy] == [DONE, DONE]
    stuck = await job_row(ctx.db, poisoned)
    assert stuck.status == RUNNING  # its lease runs out and it is tried again


# --- the lease ---------------------------------------------------------------------------------


async def test_a_result_after_the_lease_ran_out_is_not_written_even_unclaimed(
    ctx: Context,
) -> None:
    kind = new_kind()
    [job_id] = await _enqueue(ctx, kind, [{"n": 0}])
    async with ctx.db.transaction() as session:
        [late] = await repository.claim(session, ctx.keyring, kind, 1, lease=-1.0)
    # Nobody claimed it since, but it is anybody's now: the late result must not land.
    async with ctx.db.transaction() as session:
        assert await repository.settle(session, late, Outcome.done(), 1.0) is None
    row = await job_row(ctx.db, job_id)
    assert (row.status, row.result, row.claim_token) == (RUNNING, None, late.claim_token)


async def test_released_jobs_are_claimable_at_once_and_a_lapsed_claim_releases_nothing(
    ctx: Context,
) -> None:
    kind = new_kind()
    first, second = await _enqueue(ctx, kind, [{"n": 0}, {"n": 1}])
    async with ctx.db.transaction() as session:
        held = await repository.claim(session, ctx.keyring, kind, 1, lease=600.0)
    async with ctx.db.transaction() as session:
        lapsed = await repository.claim(session, ctx.keyring, kind, 1, lease=-1.0)
    async with ctx.db.transaction() as session:
        assert await repository.release(session, [*held, *lapsed]) == 1
    assert (await job_row(ctx.db, held[0].id)).status == PENDING
    async with ctx.db.transaction() as session:
        again = await repository.claim(session, ctx.keyring, kind, 10, lease=600.0)
    assert sorted(j.id for j in again) == sorted([first, second])


async def test_stop_lets_running_jobs_finish_within_the_grace_and_hands_back_the_rest(
    ctx: Context,
) -> None:
    kind = new_kind()
    quick_id, stuck_id = await _enqueue(ctx, kind, [{"n": 0}, {"n": 1}])
    finish, never = asyncio.Event(), asyncio.Event()
    handler = Scripted({0: after(finish, Outcome.done()), 1: after(never, Outcome.done())})
    runner = runner_with(ctx, kind, handler, lease=600.0)
    run = asyncio.create_task(runner.run_due(kind))
    await wait_until(lambda: len(handler.calls) == 2, "both jobs to start")
    stopping = asyncio.create_task(runner.stop(grace=1.0))
    finish.set()  # the quick one finishes during the grace period
    await asyncio.wait_for(stopping, 10)
    await run
    assert (await job_row(ctx.db, quick_id)).status == DONE
    stuck = await job_row(ctx.db, stuck_id)
    assert (stuck.status, stuck.claim_token) == (PENDING, None)
    async with ctx.db.read() as session:
        assert stuck.next_attempt_at <= await db_now(session)  # not in ten minutes

    other = Recorder()
    successor = runner_for(ctx.db, ctx.keyring, kind, other)
    try:
        assert await successor.run_due(kind) == 1
    finally:
        await successor.stop()
    assert (await job_row(ctx.db, stuck_id)).status == DONE


# --- the kind's policy -------------------------------------------------------------------------


@pytest.mark.parametrize("run_timeout", [30.0, 45.0, 0.0, -1.0])
def test_a_run_timeout_not_shorter_than_the_lease_is_refused_at_start(
    run_timeout: float,
) -> None:
    with pytest.raises(ConfigurationError):
        KindPolicy(
            lease=30.0,
            backoff_base=1.0,
            backoff_max=2.0,
            batch_size=1,
            concurrency=1,
            poll_interval=1.0,
            run_timeout=run_timeout,
        )


def test_the_default_run_timeout_is_most_of_the_lease() -> None:
    assert policy(lease=30.0).time_limit == pytest.approx(24.0)
    assert policy(lease=30.0, run_timeout=5.0).time_limit == 5.0


def test_the_stop_grace_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().jobs.stop_grace == 5.0
    monkeypatch.setenv("IDP_JOBS__STOP_GRACE", "1.5")
    assert Settings().jobs.stop_grace == 1.5


async def test_a_try_that_runs_past_its_run_timeout_is_cut_off_and_retried(
    ctx: Context,
) -> None:
    kind = new_kind()
    hung_id, quick_id = await _enqueue(ctx, kind, [{"n": 0}, {"n": 1}])
    handler = Scripted({0: after(asyncio.Event(), Outcome.done()), 1: answer(Outcome.done())})
    runner = runner_with(ctx, kind, handler, lease=30.0, run_timeout=0.3)
    try:
        await asyncio.wait_for(runner.run_due(kind), 10)
    finally:
        await runner.stop(grace=0)
    hung = await job_row(ctx.db, hung_id)
    assert (hung.status, hung.last_error) == (PENDING, "ran longer than 0.3 s")
    assert (await job_row(ctx.db, quick_id)).status == DONE


async def test_immediate_runs_are_capped_by_the_kinds_concurrency(ctx: Context) -> None:
    kind = new_kind()
    async with ctx.db.transaction() as session:
        refs = [enqueue(session, kind, {"n": n}, deadline_in=600, lease=600.0) for n in range(5)]
    gate = asyncio.Event()
    handler = Recorder(gate=gate)
    runner = runner_for(ctx.db, ctx.keyring, kind, handler, concurrency=2)
    try:
        await runner.run_now(refs, wait=0)
        assert len(handler.calls) == 2
        rows = await job_rows(ctx.db, kind)
        assert (
            sorted((r.status, r.attempts) for r in rows) == [(PENDING, 0)] * 3 + [(RUNNING, 1)] * 2
        )
        gate.set()  # the two finish; the workers take the three handed back
        runner.start()

        async def all_done() -> bool:
            return all(r.status == DONE for r in await job_rows(ctx.db, kind))

        await wait_until(all_done, "every job to be done")
    finally:
        gate.set()
        await runner.stop()
    assert sorted(n for _, n in handler.calls) == [0, 1, 2, 3, 4]
    assert [r.attempts for r in await job_rows(ctx.db, kind)] == [1] * 5


# --- payloads ----------------------------------------------------------------------------------


async def test_a_payload_that_lacks_a_field_or_is_not_json_fails_alone_with_the_reason(
    ctx: Context,
) -> None:
    kind = new_kind()
    endpoint = Endpoint()
    now = int(ctx.clock.now().timestamp())
    good = {
        "client_id": "rp-robust",
        "uri": endpoint.uri,
        "sub": "sub-1",
        "sid": "sid-1",
        "alg": "ES256",
        "jti": uuid.uuid4().hex,
        "iat": now,
    }
    no_jti = {k: v for k, v in good.items() if k != "jti"}
    bad_iat = {**good, "iat": "yesterday"}
    healthy, missing, mistyped, garbled = await _enqueue(ctx, kind, [good, no_jti, bad_iat, good])
    async with ctx.db.transaction() as session:
        await session.execute(
            update(QueuedJob).where(QueuedJob.id == garbled).values(payload=b"{not json")
        )
    runner = runner_with(ctx, kind, BackchannelHandler(ctx))
    try:
        await runner.run_due(kind)
    finally:
        await runner.stop()
        endpoint.stop()
    assert (await job_row(ctx.db, healthy)).status == DONE
    assert len(endpoint.jtis) == 1
    expected = {
        missing: "the payload has no 'jti'",
        mistyped: "the payload's iat is not an integer: str",
        garbled: "the payload is not JSON",
    }
    for job_id, reason in expected.items():
        row = await job_row(ctx.db, job_id)
        assert (row.status, row.result, row.last_error, row.attempts) == (
            FAILED,
            "unreadable",
            reason,
            1,
        )


async def test_deliveries_list_survives_a_row_that_is_not_json(
    ctx: Context, settings: Settings
) -> None:
    job_id = uuid.uuid4()
    client_id = f"rp-garbled-{job_id.hex[:8]}"
    async with ctx.db.transaction() as session:
        enqueue(session, BACKCHANNEL_LOGOUT, {}, deadline_in=600, ref=client_id)
        await session.flush()
        await session.execute(
            update(QueuedJob)
            .where(QueuedJob.ref == client_id)
            .values(payload=b"\xff{not json", status=FAILED, result="error")
        )
    code, out, err = await run_idp(
        idp_env(settings), "deliveries", "list", "--status", "failed", "--json"
    )
    assert code == 0, err
    [listed] = [d for d in json.loads(out)["deliveries"] if d["client_id"] == client_id]
    assert (listed["uri"], listed["status"]) == (None, "failed")


# --- the deadline sweep --------------------------------------------------------------------------


async def test_the_deadline_sweep_skips_rows_another_instance_holds(
    ctx: Context, settings: Settings
) -> None:
    kind = new_kind()
    async with ctx.db.transaction() as session:
        held, free = (enqueue(session, kind, {"n": n}, deadline_in=-1.0).id for n in (0, 1))
    other = Database(settings.database_url)
    try:
        if ctx.settings.is_sqlite:
            # SQLite has no row locks: one writer at a time, so there is nothing to skip.
            async with ctx.db.transaction() as session:
                swept = await repository.expire_overdue(session, kind)
            assert sorted(s.id for s in swept) == sorted([held, free])
            return
        async with other.transaction() as holder:
            # Another instance's sweep (or claim) holds one row and has not committed yet.
            await holder.execute(select(QueuedJob.id).where(QueuedJob.id == held).with_for_update())

            async def sweep() -> list[repository.Settled]:
                async with ctx.db.transaction() as session:
                    return await repository.expire_overdue(session, kind)

            swept = await asyncio.wait_for(sweep(), 5)  # blocked here before SKIP LOCKED
        assert [s.id for s in swept] == [free]
    finally:
        await other.dispose()
    assert (await job_row(ctx.db, held)).status == PENDING
    assert (await job_row(ctx.db, free)).status == FAILED


async def test_the_database_clock_moves_within_a_transaction(ctx: Context) -> None:
    """A lease or deadline written late in a transaction (after waiting on a lock) starts
    then, not when the transaction began (PostgreSQL's now() is the transaction's start)."""
    async with ctx.db.transaction() as session:
        began = await db_now(session)
        await asyncio.sleep(0.6)
        later = await db_now(session)
    assert (later - began).total_seconds() >= 0.5
