"""The submit as one sequence of transactions, shared by the REST route and the console page
(the route or page calls it; see "The unit of work" in docs/architecture.md): the claim commits
on its own, the verification runs with no transaction open, the outcome commits last.

Once claimed, a challenge always ends with an outcome, or with its claim undone: a signature
the checker could not get to (``idp.signatures.result.VerificationUnavailable`` with ``spent``
false: no place, the trust list unreadable) was not judged, so the claim is undone and the
person may send it again. One the checker already worked on (``spent``: out of time, a pool
step overdue) ends ``unavailable``: undoing that claim would let one challenge be sent again
and again, each costing the work, past the hourly cap on challenges. Anything else that stops
the submit (an error, the request cancelled at shutdown or by a client gone) leaves ``error``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from idp.context import Context
from idp.levels.qes import service
from idp.levels.qes.errors import (
    AlreadyConfirmed,
    LevelTooLow,
    SignatureRefused,
    VerificationUnavailable,
)
from idp.levels.qes.repository import Claimed
from idp.levels.qes.service import Checker, Outcome
from idp.levels.qes.submission import Submission
from idp.signatures.result import VerificationUnavailable as CouldNotVerify

logger = logging.getLogger("idp.levels")

ERROR = "error"  # a challenge's outcome when the verification itself failed unexpectedly
UNAVAILABLE = "unavailable"  # its outcome when the checker worked on it but could not judge

# The settling writes run as tasks of their own, shielded: a cancelled request still gets its
# challenge settled. The set holds them until they end (the loop keeps only weak references).
_settling: set[asyncio.Task[bool]] = set()


async def submit(
    ctx: Context,
    checker: Checker,
    account_id: uuid.UUID,
    challenge_id: uuid.UUID,
    submission: Submission,
    *,
    session_id: uuid.UUID | None,
    ip: str | None,
    locale: str,
) -> Outcome:
    """Confirm the account with ``submission`` over the challenge; raises the problem that
    says why not (after the challenge's outcome is kept): ``NoSuchChallenge``,
    ``ChallengeUsed``, ``ChallengeExpired`` before anything is verified, then
    ``SignatureRefused``, ``AlreadyConfirmed`` or ``LevelTooLow``; ``VerificationUnavailable``
    (503) with the claim undone, or the challenge ended ``unavailable`` when the checker had
    worked on it."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        claimed = await service.claim(session, account_id, challenge_id, now=now)
    settled = False
    try:
        signed_after, signed_before = service.signing_window(claimed, ctx.clock.now())
        try:
            verification = await checker.verify(
                submission.signature,
                claimed.content.encode(),
                certificates=submission.certificates,
                signed_after=signed_after,
                signed_before=signed_before,
            )
        except CouldNotVerify as unavailable:
            if unavailable.spent:
                settled = await _settle(ctx, _record(challenge_id, UNAVAILABLE))
            else:
                settled = await _settle(ctx, _release(challenge_id, claimed))
            raise VerificationUnavailable(
                unavailable.retry_after, spent=unavailable.spent
            ) from None
        async with ctx.db.transaction() as session:
            outcome = await service.finish(
                session,
                ctx,
                account_id,
                challenge_id,
                verification,
                session_id=session_id,
                now=ctx.clock.now(),
                ip=ip,
                locale=locale,
            )
        settled = True
    finally:
        if not settled:  # an error or a cancellation: the challenge is kept as failed
            await _settle(ctx, _record(challenge_id, ERROR))
    if outcome.code == "already-confirmed":
        raise AlreadyConfirmed("The account is confirmed already.")
    if outcome.code == "level-too-low":
        raise LevelTooLow("The account is no longer standard.")
    if outcome.code is not None:
        raise SignatureRefused(outcome.code, fields=outcome.fields)
    return outcome


def _release(
    challenge_id: uuid.UUID, claimed: Claimed
) -> Callable[[AsyncSession], Awaitable[bool]]:
    async def write(session: AsyncSession) -> bool:
        return await service.release(session, challenge_id, claimed)

    return write


def _record(challenge_id: uuid.UUID, outcome: str) -> Callable[[AsyncSession], Awaitable[bool]]:
    async def write(session: AsyncSession) -> bool:
        await service.record_outcome(session, challenge_id, outcome)
        return True

    return write


async def _settle(ctx: Context, write: Callable[[AsyncSession], Awaitable[bool]]) -> bool:
    """Run ``write`` in a transaction of its own that a cancellation of the request does not
    stop; whether it did its part."""
    task = asyncio.create_task(_write(ctx, write))
    _settling.add(task)
    task.add_done_callback(_settling.discard)
    return await asyncio.shield(task)


async def _write(ctx: Context, write: Callable[[AsyncSession], Awaitable[bool]]) -> bool:
    # A failure is logged (its type only), never raised: it must not hide why the submit
    # stopped.
    try:
        async with ctx.db.transaction() as session:
            return await write(session)
    except Exception as exc:  # the database gone: the challenge stays as it is
        logger.warning("a signature challenge was not settled: %s", type(exc).__name__)
        return False
