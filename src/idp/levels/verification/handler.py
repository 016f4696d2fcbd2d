"""The ``registry_check`` job: one try moves one check a step, by the state the check is in
(always read afresh; every change a guarded UPDATE, so a try that lost a race writes nothing).

queued → submit (the check's id is the idempotency key: a worker killed after the submit is
replaced by one that gets the same reference) → sent → ask for the answer → waiting (the job
waits, doubling, without counting as failed) → settled: the settle transaction
(``service.settle``), then the registry is told it may forget the answer. A check still open
``retry_period`` after it was armed (created, or re-armed by ``service.rearm_stale`` or an
operator) fails with ``registry_timeout``; every wait is capped at that moment. While the
account is not active (disabled, being deleted) nothing is sent and nothing settles: the job
waits.
"""

from __future__ import annotations

import logging
import random
import uuid
from typing import Any

from idp.context import Context
from idp.db.models import RegistryCheck
from idp.jobs.errors import JobPayloadError
from idp.jobs.queue import ClaimedJob, Outcome
from idp.jobs.registry import KindPolicy, Registry
from idp.levels.verification import reasons
from idp.levels.verification.repository import CheckRepository
from idp.levels.verification.rounds import (
    FINAL_STATES,
    OPEN_STATES,
    QUEUED,
    REGISTRY_CHECK,
    SENT,
    SUPERSEDED,
    WAITING,
)
from idp.levels.verification.service import build_query, settle
from idp.levels.verifiers.protocol import (
    CheckKind,
    RegistryUnavailable,
    RequestRejected,
    Verdict,
    known_fields,
    submit,
)
from idp.levels.verifiers.registry import close_verifiers
from idp.web.i18n import DEFAULT_LOCALE

log = logging.getLogger("idp.levels.checks")

# registry_checks.reference's length: a longer reference fails the check (never cut).
MAX_REFERENCE = 128

# Its own generator: the jitter never moves the global one.
_jitter = random.Random()  # noqa: S311 - jitter, not a secret

# The answer-wait doubling stops growing after this many steps (2**30 × base is past any max).
_MAX_DOUBLINGS = 30


class RegistryCheckHandler:
    """``verifiers``: the verifier of each registry kind, built once per process; closed with
    the handler."""

    def __init__(self, ctx: Context, verifiers: dict[CheckKind, Any]) -> None:
        self._ctx = ctx
        self._verifiers = verifiers
        self._settings = ctx.settings.registries

    async def run(self, job: ClaimedJob) -> Outcome:
        try:
            return await self._run(job)
        except (JobPayloadError, TimeoutError):
            raise
        except Exception as exc:
            # The exception's text may quote the data it choked on (a date, a name): only its
            # type reaches the log and the job's last error.
            log.warning("registry check job %s raised %s", job.id, type(exc).__name__)
            return Outcome.retry(f"the check raised {type(exc).__name__}")

    async def _run(self, job: ClaimedJob) -> Outcome:
        try:
            check_id = uuid.UUID(str(job.value("check")))
        except ValueError:
            raise JobPayloadError("the payload's check is not a check id") from None
        ctx = self._ctx
        async with ctx.db.read() as session:
            # One SELECT, nothing sealed opened: most tries are polls that need no data.
            view = await CheckRepository(session).poll_view(check_id)
        if view is None:
            return Outcome.done("gone")  # the account was deleted
        check, status, revision = view
        if check.state in FINAL_STATES:
            return Outcome.done(check.state)
        if check.job_id is not None and check.job_id != job.id:
            return Outcome.done("replaced")  # an operator re-armed the check with a new job
        now = ctx.clock.now()
        if status is None or revision != check.revision:
            return await self._supersede(check)
        left = (check.armed_at - now).total_seconds() + self._settings.retry_period
        if status != "active":
            # Disabled or being deleted: nothing goes to a registry and nothing settles until
            # it is active again (the check may still time out after that).
            wait = self._settings.answer_wait_max
            return Outcome.wait(min(wait, left) if left > 0 else wait, "the account is not active")
        if left <= 0:
            return await self._settle(check, False, reasons.REGISTRY_TIMEOUT)
        kind = CheckKind(check.kind)
        verifier = self._verifiers[kind]
        if check.state == QUEUED:
            async with ctx.db.read() as session:
                repo = CheckRepository(session)
                data = await repo.personal_data(check.account_id)
                account = await repo.account(check.account_id)
            if data is None or account is None or data.revision != check.revision:
                return await self._supersede(check)
            query = build_query(kind, data, account)
            try:
                reference = await submit(verifier, query, idempotency_key=str(check.id))
            except RegistryUnavailable as exc:
                return await self._unavailable(check, exc)
            except RequestRejected as exc:
                log.warning("registry refused check %s (%s): %s", check.id, kind.value, exc)
                return await self._settle(check, False, reasons.REGISTRY_REJECTED)
            if not isinstance(reference, str) or not 1 <= len(reference) <= MAX_REFERENCE:
                # Cut, two checks could share one reference: a verifier's bug, never stored.
                log.warning(
                    "the %s verifier gave check %s a reference that is not 1 to %d characters",
                    kind.value,
                    check.id,
                    MAX_REFERENCE,
                )
                return await self._settle(check, False, reasons.REGISTRY_REJECTED)
            moved = await self._move(
                check,
                (QUEUED,),
                state=SENT,
                reference=reference,
                reason=None,
                attempts=RegistryCheck.attempts + 1,
            )
            if not moved:
                return Outcome.wait(0.0, "the check changed meanwhile")
            return self._wait(check, self._settings.answer_wait_base, "sent to the registry")
        # sent or waiting: ask for the answer
        assert check.reference is not None
        try:
            answer = await verifier.answer(kind, check.reference)
        except RegistryUnavailable as exc:
            return await self._unavailable(check, exc)
        except RequestRejected as exc:
            log.warning("registry refused check %s (%s): %s", check.id, kind.value, exc)
            return await self._settle(check, False, reasons.REGISTRY_REJECTED)
        if answer.verdict is Verdict.PENDING:
            if check.state != WAITING or check.reason is not None:  # else nothing to write
                await self._move(check, (SENT, WAITING), state=WAITING, reason=None)
            return self._wait(check, self._answer_wait(job.attempts), "waiting for the registry")
        outcome = await self._settle(
            check,
            answer.verdict is Verdict.MATCH,
            reasons.for_verdict(kind, answer.verdict),
            # Only the query's field names: stored and shown as they are (REST, page, CLI).
            known_fields(kind, answer.fields) if answer.verdict is Verdict.MISMATCH else (),
        )
        try:
            await verifier.acknowledge(kind, check.reference)
        except Exception as exc:  # the registry redelivers; the check is settled either way
            log.warning(
                "acknowledging check %s (%s) failed: %s", check.id, kind.value, type(exc).__name__
            )
        return outcome

    def _answer_wait(self, attempts: int) -> float:
        steps = min(_MAX_DOUBLINGS, max(0, attempts - 2))
        wait = self._settings.answer_wait_base * 2**steps
        return float(min(wait, self._settings.answer_wait_max))

    def _wait(self, check: RegistryCheck, delay: float, note: str) -> Outcome:
        """An answer wait, ±10 % so polls spread out, never past the end of the check's retry
        period: the try that settles ``registry_timeout`` comes before the job's deadline."""
        delay *= _jitter.uniform(0.9, 1.1)
        left = (check.armed_at - self._ctx.clock.now()).total_seconds()
        left += self._settings.retry_period
        return Outcome.wait(max(0.0, min(delay, left)), note)

    async def _supersede(self, check: RegistryCheck) -> Outcome:
        async with self._ctx.db.transaction() as session:
            await CheckRepository(session).supersede(check, now=self._ctx.clock.now())
        return Outcome.done(SUPERSEDED)

    async def _move(self, check: Any, from_states: tuple[str, ...], **values: Any) -> bool:
        async with self._ctx.db.transaction() as session:
            return await CheckRepository(session).move(
                check, from_states=from_states, now=self._ctx.clock.now(), **values
            )

    async def _unavailable(self, check: Any, exc: RegistryUnavailable) -> Outcome:
        if check.reason != reasons.REGISTRY_UNAVAILABLE:  # said once per outage, not per try
            await self._move(check, OPEN_STATES, reason=reasons.REGISTRY_UNAVAILABLE)
        return Outcome.retry(f"registry unavailable: {exc}"[:500])

    async def _settle(
        self,
        check: Any,
        succeeded: bool,
        reason: str | None,
        fields: tuple[str, ...] = (),
    ) -> Outcome:
        async with self._ctx.db.transaction() as session:
            result = await settle(
                session,
                self._ctx,
                check,
                from_states=(check.state,),
                succeeded=succeeded,
                reason=reason,
                fields=fields,
                now=self._ctx.clock.now(),
                locale=DEFAULT_LOCALE,
            )
        if not result.moved:
            return Outcome.wait(0.0, "the check changed meanwhile")
        log.info(
            "registry check %s (%s) settled %s%s",
            check.id,
            check.kind,
            "succeeded" if succeeded else "failed",
            f" ({reason})" if not succeeded and reason else "",
        )
        if succeeded and result.failed_kinds:  # the SNILS was verified elsewhere meanwhile
            log.info(
                "registry round of check %s failed at the end: %s",
                check.id,
                ",".join(result.failed_kinds),
            )
        return Outcome.done("succeeded" if succeeded else (reason or "failed"))

    async def close(self) -> None:
        await close_verifiers(self._verifiers)


def register(registry: Registry, ctx: Context, verifiers: dict[CheckKind, Any]) -> None:
    settings = ctx.settings.registries
    registry.register(
        REGISTRY_CHECK,
        RegistryCheckHandler(ctx, verifiers),
        KindPolicy(
            lease=settings.lease,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
            batch_size=settings.batch_size,
            concurrency=settings.batch_size,
            poll_interval=settings.poll_interval,
            ref_fields=("kind",),  # the ref is the check's kind, never personal data
        ),
    )
