"""Runs jobs: a polling loop per kind that claims what is due, each job in its own task (so a
slow target delays only its own jobs), and results written in small batches, each only while
its claim still holds the lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.db.engine import Database
from idp.jobs import repository
from idp.jobs.dbtime import db_now
from idp.jobs.queue import ClaimedJob, JobRef, Outcome
from idp.jobs.registry import Registration, Registry
from idp.jobs.worker import PollingWorker, backoff
from idp.security.sealing import Keyring

log = logging.getLogger("idp.jobs")


@dataclass(slots=True)
class _Kind:
    registration: Registration
    worker: PollingWorker | None = None
    inflight: set[asyncio.Task[None]] = field(default_factory=set)
    results: list[tuple[ClaimedJob, Outcome, asyncio.Future[None]]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None
    more_due: bool = False


class Waker:
    """Wakes one kind's loop; handed to code that commits new jobs of that kind."""

    def __init__(self, runner: JobRunner, kind: str) -> None:
        self._runner, self._kind = runner, kind

    def wake(self) -> None:
        self._runner.wake(self._kind)


class JobRunner:
    def __init__(self, db: Database, keyring: Keyring, registry: Registry) -> None:
        self._db = db
        self._keyring = keyring
        self._kinds = {r.kind: _Kind(r) for r in registry}

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        for name, kind in self._kinds.items():
            kind.worker = PollingWorker(
                f"idp-jobs-{name}",
                lambda name=name: self.fill(name),  # type: ignore[misc]
                kind.registration.policy.poll_interval,
            )
            kind.worker.start()

    async def stop(self) -> None:
        for kind in self._kinds.values():
            if kind.worker is not None:
                await kind.worker.stop()
        tasks = [t for kind in self._kinds.values() for t in (*kind.inflight, kind.writer) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for kind in self._kinds.values():
            await kind.registration.handler.close()

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
        mine = self._kinds[name].inflight - before
        if mine:
            await asyncio.wait(mine)
        return started

    async def run_now(self, refs: Iterable[JobRef], wait: float | None = None) -> None:
        """Run the jobs the caller enqueued with a lease, right after its commit, waiting at
        most ``wait`` seconds (default: the kind's ``inline_wait``); whatever does not finish
        by then finishes in the background, and what this process loses a worker retries."""
        tasks, waits = [], [0.0]
        for ref in refs:
            kind = self._kinds[ref.kind]
            if ref.claim_token is None:
                self.wake(ref.kind)
                continue
            job = ClaimedJob(ref.id, ref.kind, ref.ref, ref.payload, 1, ref.claim_token)
            tasks.append(self._spawn(kind, job))
            waits.append(kind.registration.policy.inline_wait)
        timeout = max(waits) if wait is None else wait
        if tasks and timeout > 0:
            await asyncio.wait(tasks, timeout=timeout)

    def _spawn(self, kind: _Kind, job: ClaimedJob) -> asyncio.Task[None]:
        task = asyncio.create_task(self._execute(kind, job), name=f"idp-job-{job.id}")
        kind.inflight.add(task)
        task.add_done_callback(lambda t: self._finished(kind, t))
        return task

    def _finished(self, kind: _Kind, task: asyncio.Task[None]) -> None:
        kind.inflight.discard(task)
        if kind.more_due and kind.worker is not None:
            kind.worker.wake()  # a slot is free and more was due than we could take

    async def _execute(self, kind: _Kind, job: ClaimedJob) -> None:
        if job.payload is None:
            outcome = Outcome.failed("the payload could not be opened", "unreadable")
        else:
            try:
                outcome = await kind.registration.handler.run(job)
            except Exception as exc:  # this try failed; the others are not concerned
                log.warning("job %s (%s) raised", job.id, job.kind, exc_info=True)
                outcome = Outcome.retry(f"{type(exc).__name__}: {exc}")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        kind.results.append((job, outcome, done))
        if kind.writer is None or kind.writer.done():
            kind.writer = asyncio.create_task(self._write(kind))
        await done

    async def _write(self, kind: _Kind) -> None:
        """Write what finished, many results per transaction when many finish together."""
        policy = kind.registration.policy
        while kind.results:
            batch, kind.results = kind.results, []
            try:
                async with self._db.transaction() as session:
                    settled = []
                    for job, outcome, _ in batch:
                        retry_in = backoff(job.attempts, policy.backoff_base, policy.backoff_max)
                        row = await repository.settle(session, job, outcome, retry_in)
                        if row is not None:
                            settled.append(row)
                    await self._audit(session, kind, settled)
            except Exception:  # the leases run out and the jobs are tried again
                log.exception("recording %d %s results failed", len(batch), kind.registration.kind)
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

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
                client_id=row.ref,
                attempts=row.attempts,
                error=row.last_error,
                job_id=str(row.id),
            )
