"""Runs jobs: a polling loop per kind that claims what is due, each job in its own task (so a
slow target delays only its own jobs), and results written in small batches, each only while
its claim still holds the lease."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.db.engine import Database
from idp.jobs import repository
from idp.jobs.dbtime import db_now
from idp.jobs.errors import JobPayloadError
from idp.jobs.queue import ClaimedJob, JobRef, Outcome
from idp.jobs.registry import Registration, Registry
from idp.jobs.worker import PollingWorker, backoff
from idp.security.sealing import Keyring

log = logging.getLogger("idp.jobs")

UNREADABLE = "unreadable"  # the result of a job whose payload cannot be used
AUDIT_CLIENT_ID = 64  # the audit log's client_id column


@dataclass(slots=True)
class _Kind:
    registration: Registration
    worker: PollingWorker | None = None
    inflight: dict[asyncio.Task[None], ClaimedJob] = field(default_factory=dict)
    results: list[tuple[ClaimedJob, Outcome, asyncio.Future[None]]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None
    more_due: bool = False

    @property
    def full(self) -> bool:
        return len(self.inflight) >= self.registration.policy.concurrency


class Waker:
    """Wakes one kind's loop; handed to code that commits new jobs of that kind."""

    def __init__(self, runner: JobRunner, kind: str) -> None:
        self._runner, self._kind = runner, kind

    def wake(self) -> None:
        self._runner.wake(self._kind)


class JobRunner:
    """``stop_grace``: how long ``stop`` waits for running jobs before it hands them back."""

    def __init__(
        self, db: Database, keyring: Keyring, registry: Registry, *, stop_grace: float = 5.0
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._kinds = {r.kind: _Kind(r) for r in registry}
        self._stop_grace = stop_grace
        self._stopping = False

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        for name, kind in self._kinds.items():
            kind.worker = PollingWorker(
                f"idp-jobs-{name}",
                lambda name=name: self.fill(name),  # type: ignore[misc]
                kind.registration.policy.poll_interval,
            )
            kind.worker.start()

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming, give running jobs ``grace`` seconds (default ``stop_grace``) to
        finish, write what finished, and hand back the rest so another instance can claim them
        at once rather than after their leases."""
        self._stopping = True
        for kind in self._kinds.values():
            if kind.worker is not None:
                await kind.worker.stop()
        running = {
            task: job for kind in self._kinds.values() for task, job in kind.inflight.items()
        }
        unfinished: list[ClaimedJob] = []
        if running:
            grace = self._stop_grace if grace is None else grace
            _, late = await asyncio.wait(running, timeout=grace) if grace > 0 else ((), running)
            for task in late:
                task.cancel()
                unfinished.append(running[task])
            await asyncio.gather(*late, return_exceptions=True)
        # Results already in hand are written before anything is handed back.
        writers = [kind.writer for kind in self._kinds.values() if kind.writer is not None]
        await asyncio.gather(*writers, return_exceptions=True)
        if unfinished:
            await self._release(unfinished)
        for kind in self._kinds.values():
            await kind.registration.handler.close()

    async def _release(self, jobs: list[ClaimedJob], *, started: bool = True) -> None:
        try:
            async with self._db.transaction() as session:
                await repository.release(session, jobs, started=started)
        except Exception:  # their leases run out and they are claimed then
            log.exception("handing back %d unfinished jobs failed", len(jobs))

    def wake(self, kind: str | None = None) -> None:
        for name in [kind] if kind else list(self._kinds):
            worker = self._kinds[name].worker
            if worker is not None:
                worker.wake()

    def waker(self, kind: str) -> Waker:
        return Waker(self, kind)

    # --- running --------------------------------------------------------------------------------

    async def fill(self, name: str) -> int:
        """Claim as many due jobs as this kind has free slots for and start them."""
        kind = self._kinds[name]
        policy = kind.registration.policy
        free = min(policy.batch_size, policy.concurrency - len(kind.inflight))
        if free <= 0:
            kind.more_due = True
            return 0
        if self._stopping:
            return 0
        async with self._db.transaction() as session:
            expired = await repository.expire_overdue(session, name)
            await self._audit(session, kind, expired)
            claimed = await repository.claim(session, self._keyring, name, free, policy.lease)
        kind.more_due = len(claimed) == free
        for job in claimed:
            self._spawn(kind, job)
        return len(claimed)

    async def run_due(self, name: str) -> int:
        """One pass that waits for the jobs it started (tests, the ``idp worker`` drain)."""
        before = set(self._kinds[name].inflight)
        started = await self.fill(name)
        mine = set(self._kinds[name].inflight) - before
        if mine:
            await asyncio.wait(mine)
        return started

    async def run_now(self, refs: Iterable[JobRef], wait: float | None = None) -> None:
        """Run the jobs the caller enqueued with a lease, right after its commit, waiting at
        most ``wait`` seconds (default: the kind's ``inline_wait``); whatever does not finish
        by then finishes in the background, and what this process loses a worker retries.
        No more run at once than the kind's concurrency: the rest are handed back to the
        workers, due at once."""
        tasks, waits = [], [0.0]
        overflow: dict[str, list[ClaimedJob]] = {}
        for ref in refs:
            kind = self._kinds[ref.kind]
            if ref.claim_token is None:
                self.wake(ref.kind)
                continue
            job = ClaimedJob(ref.id, ref.kind, ref.ref, ref.payload, 1, ref.claim_token)
            if self._stopping or kind.full:
                overflow.setdefault(ref.kind, []).append(job)
                continue
            tasks.append(self._spawn(kind, job))
            waits.append(kind.registration.policy.inline_wait)
        if overflow:
            await self._release([job for jobs in overflow.values() for job in jobs], started=False)
            for name in overflow:
                self._kinds[name].more_due = True
                self.wake(name)
        timeout = max(waits) if wait is None else wait
        if tasks and timeout > 0:
            await asyncio.wait(tasks, timeout=timeout)

    def _spawn(self, kind: _Kind, job: ClaimedJob) -> asyncio.Task[None]:
        task = asyncio.create_task(self._execute(kind, job), name=f"idp-job-{job.id}")
        kind.inflight[task] = job
        task.add_done_callback(lambda t: self._finished(kind, t))
        return task

    def _finished(self, kind: _Kind, task: asyncio.Task[None]) -> None:
        kind.inflight.pop(task, None)
        if kind.more_due and kind.worker is not None and not self._stopping:
            kind.worker.wake()  # a slot is free and more was due than we could take

    async def _execute(self, kind: _Kind, job: ClaimedJob) -> None:
        outcome = await self._try(kind, job)
        if outcome.status not in ("done", "wait"):
            log_failed_try(kind.registration, job, outcome)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        kind.results.append((job, outcome, done))
        if kind.writer is None or kind.writer.done():
            kind.writer = asyncio.create_task(self._write(kind))
        await done

    async def _try(self, kind: _Kind, job: ClaimedJob) -> Outcome:
        """One try of the job, as an outcome: nothing it raises reaches the batch."""
        if job.payload is None:
            return Outcome.failed(
                job.payload_error or "the payload could not be opened", UNREADABLE
            )
        limit = kind.registration.policy.time_limit
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                return await kind.registration.handler.run(job)
        except JobPayloadError as exc:  # retrying will not mend it
            return Outcome.failed(exc.description, UNREADABLE)
        except TimeoutError as exc:
            if scope.expired():  # cut off so that the result is written while the lease holds
                return Outcome.retry(f"ran longer than {limit:g} s")
            return _raised(job, exc)
        except Exception as exc:  # this try failed; the others are not concerned
            return _raised(job, exc)

    async def _write(self, kind: _Kind) -> None:
        """Write what finished, many results per transaction when many finish together; if that
        transaction fails, one per result, so that one result that cannot be written does not
        take the others with it."""
        while kind.results:
            batch, kind.results = kind.results, []
            try:
                await self._settle(kind, batch)
            except Exception:
                if len(batch) == 1:
                    _log_unwritten(kind, batch)
                else:
                    log.warning(
                        "writing %d %s results together failed; writing them one by one",
                        len(batch),
                        kind.registration.kind,
                        exc_info=True,
                    )
                    for item in batch:
                        try:
                            await self._settle(kind, [item])
                        except Exception:
                            _log_unwritten(kind, [item])
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _settle(
        self, kind: _Kind, batch: list[tuple[ClaimedJob, Outcome, asyncio.Future[None]]]
    ) -> None:
        policy = kind.registration.policy
        async with self._db.transaction() as session:
            settled = []
            for job, outcome, _ in batch:
                retry_in = backoff(job.attempts, policy.backoff_base, policy.backoff_max)
                row = await repository.settle(session, job, outcome, retry_in)
                if row is not None:
                    settled.append(row)
            await self._audit(session, kind, settled)

    async def _audit(
        self, session: AsyncSession, kind: _Kind, settled: list[repository.Settled]
    ) -> None:
        event = kind.registration.policy.audit_event
        if event is None or not settled:
            return
        at = await db_now(session)
        for row in settled:
            record(
                session,
                event,
                at=at,
                outcome=row.result or row.status,
                client_id=row.ref[:AUDIT_CLIENT_ID] if row.ref else None,
                attempts=row.attempts,
                error=row.last_error,
                job_id=str(row.id),
            )


def log_failed_try(registration: Registration, job: ClaimedJob, outcome: Outcome) -> None:
    """One structured line per failed try: ``job try failed job=… kind=… <ref fields> try=N
    outcome=retry|failed reason="…"``, its fields also as the record's ``extra``. The reason is
    the one stored for operators, which handlers keep free of personal data and secrets (for
    messages: ``notify.protocol.safe_reason``); the payload is never logged."""
    parts = (job.ref or "").split(":", len(registration.policy.ref_fields) - 1)
    fields: dict[str, object] = {"job": str(job.id), "kind": job.kind}
    fields.update(zip(registration.policy.ref_fields, parts, strict=False))
    fields.update({"try": job.attempts, "outcome": outcome.status, "reason": outcome.error})
    line = " ".join(
        f"{name}={_logfmt(value, quote=name == 'reason')}" for name, value in fields.items()
    )
    log.warning("job try failed %s", line, extra={"job_try": fields})


def _logfmt(value: object, *, quote: bool) -> str:
    """A value on the one line: quoted and escaped (JSON) when it could break the line apart."""
    text = str(value)
    plain = text.isprintable() and not any(c.isspace() or c in '"=\\' for c in text)
    return text if plain and text and not quote else json.dumps(text)


def _raised(job: ClaimedJob, exc: Exception) -> Outcome:
    log.warning("job %s (%s) raised", job.id, job.kind, exc_info=exc)
    return Outcome.retry(f"{type(exc).__name__}: {exc}")


def _log_unwritten(
    kind: _Kind, batch: list[tuple[ClaimedJob, Outcome, asyncio.Future[None]]]
) -> None:
    # The job's lease runs out and it is tried again.
    log.exception(
        "recording the result of %s job %s failed", kind.registration.kind, batch[0][0].id
    )
