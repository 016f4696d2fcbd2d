"""A verification that cannot run, fails or is cancelled, on SQLite and PostgreSQL: a checker
that could not get to the signature (``VerificationUnavailable``: pool saturated or broken, or
out of time) gives 503 ``verification-unavailable`` with Retry-After and undoes the claim, so
the same signature confirms the account once the checker is back; any other failure, and a
submit cancelled mid-verification, leave the challenge used with the outcome ``error``, never
with none.

The checkers here stand in for the real one only to make it fail on cue: what is under test is
how the confirmation handles the failure."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest

from idp.context import Context
from idp.levels.qes import sequence, service
from idp.levels.qes.submission import Submission
from idp.signatures.result import Verification, VerificationUnavailable
from tests.integration.qes.kit import (
    NOT_CMS,
    certificate_for,
    challenge,
    challenge_row,
    logged_in,
    problem,
    signed,
    submit,
)
from tests.support.factories import make_person
from tests.support.live import LiveServer
from tests.support.pki import TestPki


class Unavailable:
    """A checker whose pool is "saturated" (after ``gate`` is set, when there is one): nothing
    ran for the signature. ``spent``: it ran out of time after working on it."""

    def __init__(self, retry_after: int = 7, *, spent: bool = False) -> None:
        self.retry_after = retry_after
        self.spent = spent
        self.calls = 0
        self.entered = threading.Event()  # the server's loop and the test's are two
        self.gate: threading.Event | None = None

    async def verify(
        self,
        signature: bytes | str,
        content: bytes,
        *,
        certificates: Sequence[bytes] = (),
        signed_after: datetime,
        signed_before: datetime,
    ) -> Verification:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, 10)
        raise VerificationUnavailable(
            "the pool is saturated", retry_after=self.retry_after, spent=self.spent
        )


class Broken(Unavailable):
    async def verify(
        self,
        signature: bytes | str,
        content: bytes,
        *,
        certificates: Sequence[bytes] = (),
        signed_after: datetime,
        signed_before: datetime,
    ) -> Verification:
        raise RuntimeError("the worker died")


@pytest.fixture
def swap_checker(qes_server: LiveServer) -> Iterator[Any]:
    """The server's state, whose checker a test replaces; the real one is put back after."""
    state = qes_server.app.state  # type: ignore[attr-defined]
    real = state.signature_checker
    yield state
    state.signature_checker = real


async def test_an_unavailable_checker_is_503_and_the_same_signature_goes_through_later(
    qes_server: LiveServer, ctx: Context, pki: TestPki, swap_checker: Any
) -> None:
    real, failing = swap_checker.signature_checker, Unavailable()
    swap_checker.signature_checker = failing
    person = await make_person(ctx, level="standard")
    api = await logged_in(qes_server.url, person)
    try:
        got = await challenge(api)
        signature = signed(pki, got, certificate_for(pki, person))
        for _ in range(2):  # not judged, so not used: as often as the checker is away
            answer = await submit(api, got["id"], signature)
            problem(answer, 503, "verification-unavailable")
            assert answer.headers["Retry-After"] == "7"
            row = await challenge_row(ctx, got["id"])
            assert (row.used_at, row.outcome) == (None, None)
        assert failing.calls == 2

        swap_checker.signature_checker = real
        answer = await submit(api, got["id"], signature)
        assert answer.status_code == 200, answer.text
    finally:
        await api.close()
    assert (await challenge_row(ctx, got["id"])).outcome == "confirmed"


async def test_a_check_that_worked_and_ran_out_of_time_uses_the_challenge(
    qes_server: LiveServer, ctx: Context, pki: TestPki, swap_checker: Any
) -> None:
    # The checker spent work on it (a timeout after its first step): undoing the claim would
    # let one challenge be sent again and again, each costing that work, past the hourly cap.
    real, failing = swap_checker.signature_checker, Unavailable(spent=True)
    swap_checker.signature_checker = failing
    person = await make_person(ctx, level="standard")
    api = await logged_in(qes_server.url, person)
    try:
        got = await challenge(api)
        signature = signed(pki, got, certificate_for(pki, person))
        answer = await submit(api, got["id"], signature)
        problem(answer, 503, "verification-unavailable")
        assert answer.headers["Retry-After"] == "7"
        row = await challenge_row(ctx, got["id"])
        assert row.used_at is not None
        assert row.outcome == "unavailable"
        swap_checker.signature_checker = real
        problem(await submit(api, got["id"], signature), 409, "challenge-used")
        assert failing.calls == 1
        # A new challenge, signed, goes through.
        fresh = await challenge(api)
        answer = await submit(api, fresh["id"], signed(pki, fresh, certificate_for(pki, person)))
        assert answer.status_code == 200, answer.text
    finally:
        await api.close()
    assert (await challenge_row(ctx, got["id"])).outcome == "unavailable"


async def test_a_challenge_replaced_while_its_check_waited_stays_ended(
    qes_server: LiveServer, ctx: Context, swap_checker: Any
) -> None:
    failing = Unavailable()
    failing.gate = threading.Event()
    swap_checker.signature_checker = failing
    person = await make_person(ctx, level="standard")
    api = await logged_in(qes_server.url, person)
    try:
        first = await challenge(api)
        waiting = asyncio.create_task(submit(api, first["id"], NOT_CMS))
        assert await asyncio.to_thread(failing.entered.wait, 5)
        await challenge(api)  # a newer text while the first one's check waits
        failing.gate.set()
        problem(await waiting, 503, "verification-unavailable")
        # Its claim was undone, yet only the newest challenge may be signed.
        problem(await submit(api, first["id"], NOT_CMS), 410, "challenge-expired")
    finally:
        await api.close()
    row = await challenge_row(ctx, first["id"])
    assert (row.used_at, row.outcome) == (None, None)


async def test_a_failing_checker_leaves_the_challenge_used_with_an_error(
    qes_server: LiveServer, ctx: Context, swap_checker: Any
) -> None:
    swap_checker.signature_checker = Broken()
    person = await make_person(ctx, level="standard")
    api = await logged_in(qes_server.url, person)
    try:
        got = await challenge(api)
        assert (await submit(api, got["id"], NOT_CMS)).status_code == 500
        problem(await submit(api, got["id"], NOT_CMS), 409, "challenge-used")
    finally:
        await api.close()
    row = await challenge_row(ctx, got["id"])
    assert row.used_at is not None
    assert row.outcome == "error"


class Hanging:
    """A verification that never ends until its task is cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def verify(
        self,
        signature: bytes | str,
        content: bytes,
        *,
        certificates: Sequence[bytes] = (),
        signed_after: datetime,
        signed_before: datetime,
    ) -> Verification:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@pytest.mark.parametrize("cancels", [1, 2])
async def test_a_submit_cancelled_mid_verification_leaves_an_error(
    ctx: Context, cancels: int
) -> None:
    # Shutdown or a client gone cancels the request's task; a second cancel lands while the
    # outcome is being written, and must not stop it.
    person = await make_person(ctx, level="standard")
    async with ctx.db.transaction() as session:
        issued = await service.issue_challenge(session, ctx, person.account.id, now=ctx.clock.now())
    checker = Hanging()
    task = asyncio.create_task(
        sequence.submit(
            ctx,
            checker,
            person.account.id,
            issued.id,
            Submission(b"\x30\x00", ()),
            session_id=None,
            ip=None,
            locale="ru",
        )
    )
    await checker.started.wait()
    for _ in range(cancels):
        task.cancel()
        await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 5
    while (row := await challenge_row(ctx, str(issued.id))).outcome is None:
        assert time.monotonic() < deadline, "the cancelled submit left no outcome"
        await asyncio.sleep(0.02)
    assert row.used_at is not None
    assert row.outcome == "error"
