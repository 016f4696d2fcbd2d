"""Asking a registry again (issue 10, the on-call review): a check that failed for a registry's
reason (``registry_timeout``, ``registry_rejected``) or an open one whose job is settled is
re-armed in place by ``rearm_stale`` (what an identical save calls) and by ``idp
verifications retry``; a check failed for the person's data never is. On a database of its
own, driven by a JobRunner with the memory verifier injected."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import event, select, update

from idp.context import Context
from idp.db.models import Account, QueuedJob
from idp.jobs.queue import PENDING, ClaimedJob
from idp.levels.verification.handler import RegistryCheckHandler
from idp.levels.verification.rounds import REGISTRY_CHECK
from idp.levels.verification.service import rearm_stale
from idp.levels.verifiers.protocol import CheckKind, RequestRejected, Verdict
from idp.settings import Settings
from tests.support.checks_kit import (
    Scratch,
    all_kinds,
    change_data,
    check_row,
    check_runner,
    checks_of,
    job_count,
    level_of,
    memory,
    new_subject,
    scratch_checks,
    start,
    wait_settled,
)
from tests.support.cli_kit import run_in_process
from tests.support.job_kit import job_row
from tests.support.logout_kit import (
    idp_env,
    wait_until,
)


@pytest.fixture(scope="module")
async def scratch(
    settings: Settings, migrated: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Scratch]:
    async with scratch_checks(settings, tmp_path_factory.mktemp("rearm")) as own:
        yield own


@pytest.fixture
def ctx_(scratch: Scratch) -> Context:
    scratch.clock.reset()
    return scratch.ctx


class Refusing:
    """A registry that refuses every request for good."""

    def __init__(self) -> None:
        self.calls = 0

    async def _refuse(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        raise RequestRejected("the registry refused the request (test)")

    submit_person = submit_document = submit_inn = answer = _refuse

    async def acknowledge(self, kind: CheckKind, reference: str) -> None:
        return None

    async def close(self) -> None:
        return None


async def run_until_settled(
    ctx: Context, verifiers: dict[CheckKind, object], subject: object
) -> None:
    runner = check_runner(ctx, verifiers)  # type: ignore[arg-type]
    runner.start()
    try:
        await wait_settled(ctx, subject.account_id)  # type: ignore[attr-defined]
    finally:
        await runner.stop()


async def rearm(ctx: Context, account_id: uuid.UUID) -> list[uuid.UUID]:
    async with ctx.db.transaction() as session:
        jobs = await rearm_stale(session, ctx, account_id, at=ctx.clock.now())
    return [job.id for job in jobs]


async def timed_out(scratch: Scratch, ctx: Context) -> tuple[object, list[uuid.UUID]]:
    """A subject whose whole round failed ``registry_timeout``."""
    subject = await new_subject(ctx)
    ids = await start(ctx, subject)
    runner = check_runner(ctx, all_kinds(memory(pending_polls=1_000_000)))
    runner.start()
    try:

        async def waiting() -> bool:
            return all([(await check_row(ctx, i)).state == "waiting" for i in ids])

        await wait_until(waiting, "the checks to wait for answers", within=10)
        scratch.clock.advance(ctx.settings.registries.retry_period + 1)
        await wait_settled(ctx, subject.account_id)
    finally:
        await runner.stop()
    assert {(await check_row(ctx, i)).reason for i in ids} == {"registry_timeout"}
    return subject, ids


async def test_a_timed_out_round_is_asked_again_in_place_and_succeeds(
    scratch: Scratch, ctx_: Context
) -> None:
    subject, ids = await timed_out(scratch, ctx_)
    before = {i: await check_row(ctx_, i) for i in ids}

    jobs = await rearm(ctx_, subject.account_id)  # type: ignore[attr-defined]

    assert len(jobs) == len(ids)
    for check_id in ids:
        row = await check_row(ctx_, check_id)
        assert (row.state, row.reason, row.reference, row.finished_at) == (
            "queued",
            None,
            None,
            None,
        )
        assert row.job_id in jobs
        assert row.job_id != before[check_id].job_id
        assert row.armed_at > row.created_at
        job = await job_row(ctx_.db, row.job_id)  # type: ignore[arg-type]
        assert (job.status, job.kind, job.ref) == (PENDING, REGISTRY_CHECK, row.kind)
    # Nothing else is stale now: a second call starts nothing.
    assert await rearm(ctx_, subject.account_id) == []  # type: ignore[attr-defined]

    # The clock is past created_at + retry_period, but the timeout counts from armed_at.
    verifier = memory()
    await run_until_settled(ctx_, all_kinds(verifier), subject)
    assert {(await check_row(ctx_, i)).state for i in ids} == {"succeeded"}
    assert await level_of(ctx_, subject.account_id) == "standard"  # type: ignore[attr-defined]
    # The same idempotency keys: the check ids.
    assert sorted(verifier.by_key) == sorted(str(i) for i in ids)


async def test_a_rejected_check_is_submitted_again_under_the_same_key(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    [document, person] = await start(ctx_, subject)
    await run_until_settled(
        ctx_, {CheckKind.PERSON: Refusing(), CheckKind.DOCUMENT: memory()}, subject
    )
    assert ((await check_row(ctx_, person)).state, (await check_row(ctx_, person)).reason) == (
        "failed",
        "registry_rejected",
    )

    [job] = await rearm(ctx_, subject.account_id)
    assert (await check_row(ctx_, person)).job_id == job
    assert (await check_row(ctx_, document)).state == "succeeded"  # untouched

    verifier = memory()
    await run_until_settled(
        ctx_, {CheckKind.PERSON: verifier, CheckKind.DOCUMENT: memory()}, subject
    )
    assert (await check_row(ctx_, person)).state == "succeeded"
    assert list(verifier.by_key) == [str(person)]
    assert await level_of(ctx_, subject.account_id) == "standard"


async def test_a_check_failed_for_the_data_is_never_asked_again(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    await run_until_settled(
        ctx_, all_kinds(memory(answers={subject.snils: Verdict.MISMATCH})), subject
    )
    row = await check_row(ctx_, person)
    assert (row.state, row.reason) == ("failed", "person_mismatch")

    assert await rearm(ctx_, subject.account_id) == []
    env = idp_env(ctx_.settings)
    line = (await run_in_process(env, "verifications", "retry", str(person))).refused(3)
    assert "person_mismatch" in line
    after = await check_row(ctx_, person)
    assert (after.state, after.reason, after.job_id) == ("failed", "person_mismatch", row.job_id)


async def test_only_stale_checks_of_the_current_revision_are_rearmed(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    old = await start(ctx_, subject)
    await change_data(ctx_, subject, document_number="123456")
    [document, person] = [i for i in await start(ctx_, subject) if i not in old]
    # The person check's job expired at its deadline; the document check's job is live.
    expired = (await check_row(ctx_, person)).job_id
    async with ctx_.db.transaction() as session:
        await session.execute(
            update(QueuedJob)
            .where(QueuedJob.id == expired)
            .values(status="failed", result="expired", claim_token=None)
        )
    live = (await check_row(ctx_, document)).job_id

    [job] = await rearm(ctx_, subject.account_id)

    assert (await check_row(ctx_, person)).job_id == job != expired
    assert (await check_row(ctx_, document)).job_id == live
    assert {(await check_row(ctx_, i)).state for i in old} == {"superseded"}


async def test_concurrent_rearms_give_a_stale_check_exactly_one_job(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    async with ctx_.db.transaction() as session:
        await session.execute(
            update(QueuedJob)
            .where(QueuedJob.id == (await check_row(ctx_, person)).job_id)
            .values(status="failed", result="expired", claim_token=None)
        )
    jobs_before = await job_count(ctx_, REGISTRY_CHECK)

    results = await asyncio.gather(*(rearm(ctx_, subject.account_id) for _ in range(20)))

    new = [job for jobs in results for job in jobs]
    assert len(new) == 1
    assert await job_count(ctx_, REGISTRY_CHECK) == jobs_before + 1
    assert (await check_row(ctx_, person)).job_id == new[0]


async def test_operators_retry_a_registry_failure(scratch: Scratch, ctx_: Context) -> None:
    _subject, ids = await timed_out(scratch, ctx_)
    env = idp_env(ctx_.settings)
    retried = (await run_in_process(env, "verifications", "retry", str(ids[0]), "--json")).json()
    row = await check_row(ctx_, ids[0])
    assert [r["id"] for r in retried["retried"]] == [str(ids[0])]
    assert (row.state, row.reason, str(row.job_id)) == (
        "queued",
        None,
        retried["retried"][0]["job"],
    )
    (await run_in_process(env, "verifications", "retry", str(ids[0]))).refused(3)  # live again
    # The other check of the round is failed too: --stuck lists open checks only.
    assert (await check_row(ctx_, ids[1])).state == "failed"


async def test_retry_stuck_pages_through_every_stuck_check(ctx_: Context) -> None:
    """More stuck checks than one page: the oldest are not missed."""
    from idp.cli.verifications import retry_stuck

    subjects = [await new_subject(ctx_) for _ in range(3)]
    ids = [i for subject in subjects for i in await start(ctx_, subject)]
    async with ctx_.db.transaction() as session:
        jobs = list(
            await session.scalars(
                select(QueuedJob.id).where(
                    QueuedJob.kind == REGISTRY_CHECK, QueuedJob.status == PENDING
                )
            )
        )
        await session.execute(
            update(QueuedJob)
            .where(QueuedJob.id.in_(jobs))
            .values(status="failed", result="expired", claim_token=None)
        )

    retried = await retry_stuck(ctx_, page=2)

    assert {r["id"] for r in retried} >= {str(i) for i in ids}
    for check_id in ids:
        job = await job_row(ctx_.db, (await check_row(ctx_, check_id)).job_id)  # type: ignore[arg-type]
        assert job.status == PENDING
    for subject in subjects:
        assert {c.state for c in await checks_of(ctx_, subject.account_id)} == {"queued"}


# --- the handler: inactive accounts, waits within the retry period, quiet polls -------------------


def claimed(job_id: uuid.UUID, check_id: uuid.UUID, attempts: int) -> ClaimedJob:
    return ClaimedJob(
        id=job_id,
        kind=REGISTRY_CHECK,
        ref="person",
        payload={"check": str(check_id)},
        attempts=attempts,
        claim_token="test",
    )


async def set_status(ctx: Context, account_id: uuid.UUID, status: str) -> None:
    async with ctx.db.transaction() as session:
        await session.execute(update(Account).where(Account.id == account_id).values(status=status))


async def test_a_disabled_account_sends_nothing_until_enabled(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    ids = await start(ctx_, subject)
    await set_status(ctx_, subject.account_id, "disabled")
    verifier = memory()
    runner = check_runner(ctx_, all_kinds(verifier))
    runner.start()
    try:

        async def tried_twice() -> bool:
            rows = [await check_row(ctx_, i) for i in ids]
            jobs = [await job_row(ctx_.db, r.job_id) for r in rows]  # type: ignore[arg-type]
            return all(job.attempts >= 2 for job in jobs)

        await wait_until(tried_twice, "the jobs to look at the disabled account", within=10)
        assert not set(verifier.by_key) & {str(i) for i in ids}
        assert {(await check_row(ctx_, i)).state for i in ids} == {"queued"}
        await set_status(ctx_, subject.account_id, "active")
        await wait_settled(ctx_, subject.account_id)
    finally:
        await runner.stop()
    assert set(verifier.by_key) >= {str(i) for i in ids}
    assert await level_of(ctx_, subject.account_id) == "standard"


async def test_waits_end_with_the_retry_period_so_the_check_times_out(
    scratch: Scratch, ctx_: Context
) -> None:
    """Answer waits far longer than what is left of the retry period: the check still settles
    ``registry_timeout`` at the period's end, not after the wait (or never)."""
    subject = await new_subject(ctx_)
    ids = await start(ctx_, subject)
    slow = ctx_.settings.registries.model_copy(
        update={"answer_wait_base": 30.0, "answer_wait_max": 30.0}
    )
    ctx = replace(ctx_, settings=ctx_.settings.model_copy(update={"registries": slow}))
    # 0.5 s of the retry period left when the first try runs.
    scratch.clock.advance(slow.retry_period - 0.5)
    runner = check_runner(ctx, all_kinds(memory(pending_polls=1_000_000)))
    runner.start()
    try:
        await wait_settled(ctx_, subject.account_id, within=10)
    finally:
        await runner.stop()
    for check_id in ids:
        row = await check_row(ctx_, check_id)
        assert (row.state, row.reason, row.attempts) == ("failed", "registry_timeout", 1)


class Statements:
    """The SQL statements run on an engine (text only, lower case)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        self.seen.append(statement.lower())

    def count(self, start: str, table: str) -> int:
        return sum(1 for s in self.seen if s.lstrip().startswith(start) and table in s)


async def test_a_poll_of_a_waiting_check_writes_and_opens_nothing(
    ctx_: Context, caplog: pytest.LogCaptureFixture
) -> None:
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    job_id = (await check_row(ctx_, person)).job_id
    assert job_id is not None
    verifier = memory(pending_polls=2)
    handler = RegistryCheckHandler(ctx_, all_kinds(verifier))
    assert (await handler.run(claimed(job_id, person, 1))).status == "wait"  # submitted
    assert (await handler.run(claimed(job_id, person, 2))).status == "wait"  # sent → waiting
    before = await check_row(ctx_, person)
    assert (before.state, before.reason) == ("waiting", None)

    statements = Statements()
    engines = {ctx_.db.engine.sync_engine, ctx_.db._read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", statements)
    try:
        outcome = await handler.run(claimed(job_id, person, 3))
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", statements)
    assert outcome.status == "wait"
    base = ctx_.settings.registries.answer_wait_base * 2
    assert base * 0.9 <= outcome.delay <= base * 1.1
    assert statements.count("update", "registry_checks") == 0
    assert statements.count("select", "personal_data") == 1  # the revision, joined
    assert statements.count("select", "personal_data_sealed") == 0
    assert sum(1 for s in statements.seen if "_sealed" in s) == 0
    assert (await check_row(ctx_, person)).updated_at == before.updated_at

    caplog.set_level(logging.INFO, logger="idp.levels.checks")
    assert (await handler.run(claimed(job_id, person, 4))).status == "done"
    [line] = [r.getMessage() for r in caplog.records if "settled" in r.getMessage()]
    assert line == f"registry check {person} (person) settled succeeded"
    assert subject.snils not in caplog.text


async def test_an_outage_is_noted_once(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    job_id = (await check_row(ctx_, person)).job_id
    assert job_id is not None
    verifier = memory()
    verifier.down = True
    handler = RegistryCheckHandler(ctx_, all_kinds(verifier))
    assert (await handler.run(claimed(job_id, person, 1))).status == "retry"
    noted = await check_row(ctx_, person)
    assert noted.reason == "registry_unavailable"
    assert (await handler.run(claimed(job_id, person, 2))).status == "retry"
    assert (await check_row(ctx_, person)).updated_at == noted.updated_at
