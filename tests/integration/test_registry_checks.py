"""Registry checks as durable jobs (issue 10): a round driven by a JobRunner with the memory
verifier injected, on a database of its own (the test server's workers do not take these
jobs). Each outcome of a registry, the waits, outages, refusals, supersession, the timeout,
and the promotion to standard in one transaction with its history entry."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from idp.context import Context
from idp.db.models import PersonalData, QueuedJob
from idp.jobs.queue import DONE
from idp.levels.verifiers.protocol import (
    Answer,
    CheckKind,
    RegistryUnavailable,
    RequestRejected,
    Verdict,
)
from idp.settings import Settings
from tests.support.checks_kit import (
    Scratch,
    all_kinds,
    change_data,
    check_row,
    check_runner,
    checks_of,
    level_history,
    level_of,
    memory,
    new_subject,
    notices,
    random_inn,
    scratch_checks,
    start,
    verified_snils_index,
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
    async with scratch_checks(settings, tmp_path_factory.mktemp("checks")) as own:
        yield own


@pytest.fixture
def ctx_(scratch: Scratch) -> Context:
    scratch.clock.reset()
    return scratch.ctx


async def run_round(ctx: Context, verifiers: dict[CheckKind, object], subject: object) -> None:
    runner = check_runner(ctx, verifiers)  # type: ignore[arg-type]
    runner.start()
    try:
        await wait_settled(ctx, subject.account_id)  # type: ignore[attr-defined]
    finally:
        await runner.stop()


async def test_a_round_that_matches_makes_the_account_standard(ctx_: Context) -> None:
    subject = await new_subject(ctx_, inn=random_inn())
    ids = await start(ctx_, subject)
    assert len(ids) == 3
    verifier = memory()
    await run_round(ctx_, all_kinds(verifier), subject)

    checks = await checks_of(ctx_, subject.account_id)
    assert {(c.kind, c.state, c.reason) for c in checks} == {
        ("person", "succeeded", None),
        ("document", "succeeded", None),
        ("inn", "succeeded", None),
    }
    assert all(c.reference and c.attempts == 1 and c.finished_at for c in checks)
    assert await level_of(ctx_, subject.account_id) == "standard"
    [change] = await level_history(ctx_, subject.account_id)
    assert (change.from_level, change.to_level, change.reason) == (
        "simplified",
        "standard",
        "registry_checks",
    )
    assert change.evidence is not None
    assert change.evidence.startswith("registry_checks:r1:")
    # The verified SNILS is now the account's: the one the person logs in with.
    assert await verified_snils_index(ctx_, subject.account_id) == ctx_.vault.blind_index(
        "snils", subject.snils
    )
    assert await notices(ctx_, subject.account_id, subject) == [
        ("email", "level_standard"),
        ("sms", "level_standard"),
    ]
    # Every answer was acknowledged; each check was submitted once under its own id.
    assert verifier.submits == 3
    assert sorted(verifier.by_key) == sorted(str(i) for i in ids)
    assert all(r.acknowledged for r in verifier.requests.values())
    for check in checks:
        job = await job_row(ctx_.db, check.job_id)  # type: ignore[arg-type]
        assert (job.status, job.result, job.ref) == (DONE, "succeeded", check.kind)


@pytest.mark.parametrize(
    ("kind", "verdict", "reason", "fields"),
    [
        ("person", Verdict.MISMATCH, "person_mismatch", "last_name"),
        ("person", Verdict.DECEASED, "person_deceased", None),
        ("person", Verdict.UNKNOWN, "person_unknown", None),
        ("document", Verdict.DOCUMENT_INVALID, "document_invalid", None),
        ("document", Verdict.DOCUMENT_LOST, "document_lost", None),
        ("document", Verdict.MISMATCH, "document_mismatch", "last_name"),
        ("inn", Verdict.UNKNOWN, "inn_unknown", None),
    ],
    ids=lambda v: str(v),
)
async def test_a_failed_check_keeps_the_account_simplified_and_says_why(
    ctx_: Context, kind: str, verdict: Verdict, reason: str, fields: str | None
) -> None:
    subject = await new_subject(ctx_, inn=random_inn())
    key = {"person": subject.snils, "document": subject.passport, "inn": subject.inn}[kind]
    await start(ctx_, subject)
    await run_round(ctx_, all_kinds(memory(answers={key: verdict})), subject)

    states = {
        c.kind: (c.state, c.reason, c.fields) for c in await checks_of(ctx_, subject.account_id)
    }
    assert states[kind] == ("failed", reason, fields)
    assert all(s == ("succeeded", None, None) for k, s in states.items() if k != kind)
    assert await level_of(ctx_, subject.account_id) == "simplified"
    assert await level_history(ctx_, subject.account_id) == []
    assert await verified_snils_index(ctx_, subject.account_id) is None
    assert await notices(ctx_, subject.account_id, subject) == [
        ("email", "checks_failed"),
        ("sms", "checks_failed"),
    ]


async def test_only_the_querys_field_names_are_stored(ctx_: Context) -> None:
    """A verifier (a third party's, or a gateway behind it) naming things that are not fields of
    the query: only the query's field names reach registry_checks.fields (shown on the API, the
    page and the CLI as they are)."""
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    named = ["<b>owned</b>", "last_name", "inn", "sex", "last_name", "x" * 300]
    verifier = memory(answers={subject.snils: Verdict.MISMATCH}, mismatched_fields=named)
    await run_round(ctx_, all_kinds(verifier), subject)
    row = await check_row(ctx_, person)
    assert (row.state, row.reason, row.fields) == ("failed", "person_mismatch", "last_name,sex")


async def test_pending_answers_wait_without_counting_as_failures(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    await start(ctx_, subject)
    verifier = memory(pending_polls=4)  # every request says "pending" four times
    await run_round(ctx_, all_kinds(verifier), subject)

    assert await level_of(ctx_, subject.account_id) == "standard"
    for check in await checks_of(ctx_, subject.account_id):
        assert (check.state, check.attempts) == ("succeeded", 1)
        job = await job_row(ctx_.db, check.job_id)  # type: ignore[arg-type]
        # One submit, four pending polls, the answer: six tries, none recorded as an error.
        assert (job.status, job.attempts) == (DONE, 6)
        assert job.last_error is None or "waiting" in job.last_error
    assert all(r.polls == 5 for r in verifier.requests.values())


class Flaky:
    """A memory verifier behind a registry that is down for the first ``down`` calls."""

    def __init__(self, down: int, rejects: bool = False) -> None:
        self.inner = memory()
        self.down = down
        self.calls = 0
        self.rejects = rejects

    def _gate(self) -> None:
        self.calls += 1
        if self.rejects:
            raise RequestRejected("the registry refused the request (test)")
        if self.calls <= self.down:
            raise RegistryUnavailable("registry down (test)")

    async def submit_person(self, query: object, *, idempotency_key: str) -> str:
        self._gate()
        return await self.inner.submit_person(query, idempotency_key=idempotency_key)  # type: ignore[arg-type]

    async def submit_document(self, query: object, *, idempotency_key: str) -> str:
        self._gate()
        return await self.inner.submit_document(query, idempotency_key=idempotency_key)  # type: ignore[arg-type]

    async def submit_inn(self, query: object, *, idempotency_key: str) -> str:
        self._gate()
        return await self.inner.submit_inn(query, idempotency_key=idempotency_key)  # type: ignore[arg-type]

    async def answer(self, kind: CheckKind, reference: str) -> Answer:
        self._gate()
        return await self.inner.answer(kind, reference)

    async def acknowledge(self, kind: CheckKind, reference: str) -> None:
        await self.inner.acknowledge(kind, reference)

    async def close(self) -> None:
        return None


async def test_a_registry_down_for_a_while_then_back_succeeds(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    flaky = Flaky(down=4)
    runner = check_runner(ctx_, {CheckKind.PERSON: flaky, CheckKind.DOCUMENT: memory()})
    runner.start()
    try:
        # While it is down the open check says so (not final).
        async def says_unavailable() -> bool:
            row = await check_row(ctx_, person)
            return row.reason == "registry_unavailable" and row.state == "queued"

        await wait_until(says_unavailable, "the check to note the outage", within=10)
        await wait_settled(ctx_, subject.account_id)
    finally:
        await runner.stop()
    row = await check_row(ctx_, person)
    assert (row.state, row.reason) == ("succeeded", None)
    assert await level_of(ctx_, subject.account_id) == "standard"
    job = await job_row(ctx_.db, row.job_id)  # type: ignore[arg-type]
    assert job.status == DONE
    assert job.attempts >= 5
    assert flaky.inner.submits == 1


async def test_a_rejected_request_fails_the_check_for_good(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    flaky = Flaky(down=0, rejects=True)
    await run_round(ctx_, {CheckKind.PERSON: flaky, CheckKind.DOCUMENT: memory()}, subject)
    row = await check_row(ctx_, person)
    assert (row.state, row.reason) == ("failed", "registry_rejected")
    assert flaky.calls == 1  # not retried
    assert await level_of(ctx_, subject.account_id) == "simplified"


class LongReferences(Flaky):
    """A third party's verifier whose references are longer than registry_checks.reference."""

    def __init__(self) -> None:
        super().__init__(down=0)

    async def submit_person(self, query: object, *, idempotency_key: str) -> str:
        await super().submit_person(query, idempotency_key=idempotency_key)
        return "r" * 200  # cut to 128, two checks could end up polling one reference


async def test_a_reference_too_long_to_store_fails_the_check_uncut(
    ctx_: Context, caplog: pytest.LogCaptureFixture
) -> None:
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    verifier = LongReferences()
    caplog.set_level(logging.WARNING, logger="idp.levels.checks")
    await run_round(ctx_, {CheckKind.PERSON: verifier, CheckKind.DOCUMENT: memory()}, subject)
    row = await check_row(ctx_, person)
    assert (row.state, row.reason, row.reference) == ("failed", "registry_rejected", None)
    assert verifier.calls == 1  # submitted once, never asked for an answer
    assert f"the person verifier gave check {person} a reference that is not 1 to 128 " in (
        caplog.text
    )
    assert "rrrr" not in caplog.text
    assert await level_of(ctx_, subject.account_id) == "simplified"


async def test_a_check_of_changed_data_is_superseded_and_stops(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    old = await start(ctx_, subject)
    verifier = memory(pending_polls=1_000_000)  # the old round never gets an answer
    runner = check_runner(ctx_, all_kinds(verifier))
    runner.start()
    try:

        async def all_sent() -> bool:
            rows = await checks_of(ctx_, subject.account_id)
            return all(r.state == "waiting" for r in rows)

        await wait_until(all_sent, "the first round to wait for answers", within=10)
        await change_data(ctx_, subject, document_number="123456")

        async def superseded() -> bool:
            return all([(await check_row(ctx_, i)).state == "superseded" for i in old])

        await wait_until(superseded, "the old checks to see the change and stop", within=10)
    finally:
        await runner.stop()
    for check_id in old:
        job = await job_row(ctx_.db, (await check_row(ctx_, check_id)).job_id)  # type: ignore[arg-type]
        assert (job.status, job.result) == (DONE, "superseded")
    assert await level_of(ctx_, subject.account_id) == "simplified"


async def test_a_registry_that_never_answers_times_out(scratch: Scratch, ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    ids = await start(ctx_, subject)
    verifier = memory(pending_polls=1_000_000)
    runner = check_runner(ctx_, all_kinds(verifier))
    runner.start()
    try:

        async def waiting() -> bool:
            return all([(await check_row(ctx_, i)).state == "waiting" for i in ids])

        await wait_until(waiting, "the checks to wait for answers", within=10)
        scratch.clock.advance(ctx_.settings.registries.retry_period + 1)
        await wait_settled(ctx_, subject.account_id)
    finally:
        await runner.stop()
    for check_id in ids:
        row = await check_row(ctx_, check_id)
        assert (row.state, row.reason) == ("failed", "registry_timeout")
    assert await level_of(ctx_, subject.account_id) == "simplified"


async def test_a_snils_verified_on_another_account_meanwhile_fails_snils_taken(
    ctx_: Context,
) -> None:
    """Two accounts entered the same SNILS and the registry confirms both: exactly one keeps
    it and becomes standard, the other's person check fails ``snils_taken``."""
    first = await new_subject(ctx_)
    second = await new_subject(ctx_, snils=first.snils)
    await start(ctx_, first)
    await start(ctx_, second)
    runner = check_runner(ctx_, all_kinds(memory()))
    runner.start()
    try:
        await wait_settled(ctx_, first.account_id)
        await wait_settled(ctx_, second.account_id)
    finally:
        await runner.stop()
    levels = sorted([await level_of(ctx_, s.account_id) for s in (first, second)])
    assert levels == ["simplified", "standard"]
    loser = first if await level_of(ctx_, first.account_id) == "simplified" else second
    states = {c.kind: (c.state, c.reason) for c in await checks_of(ctx_, loser.account_id)}
    assert states == {"person": ("failed", "snils_taken"), "document": ("succeeded", None)}
    assert await verified_snils_index(ctx_, loser.account_id) is None
    assert await level_history(ctx_, loser.account_id) == []
    assert await notices(ctx_, loser.account_id, loser) == [
        ("email", "checks_failed"),
        ("sms", "checks_failed"),
    ]


async def test_checks_of_one_round_settling_at_once_promote_exactly_once(
    ctx_: Context,
) -> None:
    """Twenty accounts, each round's checks answered at the same moment on many runners: every
    account ends standard with exactly one history entry (never two, never none)."""
    subjects = [await new_subject(ctx_, inn=random_inn()) for _ in range(20)]
    for subject in subjects:
        await start(ctx_, subject)
    verifier = memory()
    runners = [check_runner(ctx_, all_kinds(verifier)) for _ in range(3)]
    for runner in runners:
        runner.start()
    try:
        for subject in subjects:
            await wait_settled(ctx_, subject.account_id, within=60)
    finally:
        await asyncio.gather(*(runner.stop() for runner in runners))
    for subject in subjects:
        assert await level_of(ctx_, subject.account_id) == "standard"
        assert len(await level_history(ctx_, subject.account_id)) == 1
        assert await notices(ctx_, subject.account_id, subject) == [
            ("email", "level_standard"),
            ("sms", "level_standard"),
        ]


# --- idp verifications list|retry ---------------------------------------------------------------


async def test_operators_list_and_retry_a_stuck_check(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    [document, person] = await start(ctx_, subject)
    env = idp_env(ctx_.settings)
    # The person check's job failed for good (its deadline passed with every worker down).
    stuck_job = (await check_row(ctx_, person)).job_id
    async with ctx_.db.transaction() as session:
        await session.execute(
            update(QueuedJob)
            .where(QueuedJob.id == stuck_job)
            .values(status="failed", result="expired", claim_token=None)
        )

    listed = (
        await run_in_process(env, "verifications", "list", "--account", subject.phone, "--json")
    ).json()
    assert {(c["id"], c["kind"], c["state"], c["job"], c["stuck"]) for c in listed["checks"]} == {
        (str(person), "person", "queued", "failed", True),
        (str(document), "document", "queued", "pending", False),
    }
    assert all(c["account"] == subject.sub for c in listed["checks"])
    stuck = (await run_in_process(env, "verifications", "list", "--stuck", "--json")).json()
    assert str(person) in {c["id"] for c in stuck["checks"]}
    assert str(document) not in {c["id"] for c in stuck["checks"]}
    table = (await run_in_process(env, "verifications", "list", "--account", subject.sub)).table()
    for personal in (subject.snils, subject.phone, subject.email, "Петров", subject.passport):
        assert personal not in table

    # Bad input and wrong states change nothing.
    (await run_in_process(env, "verifications", "retry", "not-a-uuid")).refused(2)
    (await run_in_process(env, "verifications", "retry", str(uuid.uuid4()))).refused(2)
    (await run_in_process(env, "verifications", "retry", str(document))).refused(3)  # not stuck
    (await run_in_process(env, "verifications", "list", "--state", "nonsense")).refused(2)
    assert (await check_row(ctx_, person)).job_id == stuck_job

    retried = (await run_in_process(env, "verifications", "retry", str(person), "--json")).json()
    assert [r["id"] for r in retried["retried"]] == [str(person)]
    row = await check_row(ctx_, person)
    assert row.state == "queued"
    assert str(row.job_id) == retried["retried"][0]["job"] != str(stuck_job)
    (await run_in_process(env, "verifications", "retry", str(person))).refused(3)  # live again
    again = (await run_in_process(env, "verifications", "retry", "--stuck", "--json")).json()
    assert str(person) not in {r["id"] for r in again["retried"]}

    verifier = memory()
    await run_round(ctx_, all_kinds(verifier), subject)
    assert await level_of(ctx_, subject.account_id) == "standard"
    assert sorted(verifier.by_key) == sorted([str(person), str(document)])


async def test_a_settled_check_is_not_retried(ctx_: Context) -> None:
    subject = await new_subject(ctx_)
    ids = await start(ctx_, subject)
    await run_round(ctx_, all_kinds(memory()), subject)
    env = idp_env(ctx_.settings)
    line = (await run_in_process(env, "verifications", "retry", str(ids[0]))).refused(3)
    assert "succeeded" in line
    listed = (
        await run_in_process(
            env, "verifications", "list", "--account", subject.sub, "--state", "succeeded", "--json"
        )
    ).json()
    assert {c["id"] for c in listed["checks"]} == {str(i) for i in ids}
    assert all(c["job"] == "done" and not c["stuck"] for c in listed["checks"])


async def test_data_that_cannot_be_asked_leaves_no_trace_of_itself(
    ctx_: Context, caplog: pytest.LogCaptureFixture
) -> None:
    """A value the query cannot be built from (never saved by the API, but a row can be
    damaged): the try fails with the exception's type only, in the job and in the log."""
    subject = await new_subject(ctx_)
    [_document, person] = await start(ctx_, subject)
    async with ctx_.db.transaction() as session:
        data = await session.get(PersonalData, subject.account_id)
        assert data is not None
        data.birth_date = "1980-99-99"  # the same revision: the check still counts
    runner = check_runner(ctx_, all_kinds(memory()))
    caplog.set_level(logging.DEBUG)
    runner.start()
    try:

        async def tried() -> bool:
            job = await job_row(ctx_.db, (await check_row(ctx_, person)).job_id)  # type: ignore[arg-type]
            return job.last_error is not None

        await wait_until(tried, "a failed try of the person check", within=10)
    finally:
        await runner.stop()
    job = await job_row(ctx_.db, (await check_row(ctx_, person)).job_id)  # type: ignore[arg-type]
    assert job.last_error == "the check raised ValueError"
    assert "1980-99-99" not in caplog.text
    assert (await check_row(ctx_, person)).state == "queued"
