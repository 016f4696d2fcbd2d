"""The submit as one sequence of transactions, shared by the REST route and the console page
(the route or page calls it; see "The unit of work" in docs/architecture.md): the claim commits
on its own, the verification runs with no transaction open, the outcome commits last."""

from __future__ import annotations

import uuid

from idp.context import Context
from idp.levels.qes import service
from idp.levels.qes.errors import AlreadyConfirmed, LevelTooLow, SignatureRefused
from idp.levels.qes.service import Checker, Outcome
from idp.levels.qes.submission import Submission

ERROR = "error"  # a challenge's outcome when the verification itself failed unexpectedly


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
    ``SignatureRefused``, ``AlreadyConfirmed`` or ``LevelTooLow``."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        claimed = await service.claim(session, account_id, challenge_id, now=now)
    signed_after, signed_before = service.signing_window(claimed, ctx.clock.now())
    try:
        verification = await checker.verify(
            submission.signature,
            claimed.content.encode(),
            certificates=submission.certificates,
            signed_after=signed_after,
            signed_before=signed_before,
        )
    except Exception:
        async with ctx.db.transaction() as session:
            await service.record_outcome(session, challenge_id, ERROR)
        raise
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
    if outcome.code == "already-confirmed":
        raise AlreadyConfirmed("The account is confirmed already.")
    if outcome.code == "level-too-low":
        raise LevelTooLow("The account is no longer standard.")
    if outcome.code is not None:
        raise SignatureRefused(outcome.code, fields=outcome.fields)
    return outcome
