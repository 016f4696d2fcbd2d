"""Runs deliveries: right after a logout (bounded wait), and in a background worker that
retries what is due and sweeps sessions that expired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from idp.audit.log import record
from idp.context import Context
from idp.jobs.worker import PollingWorker
from idp.oidc.logout import outbox
from idp.oidc.logout.delivery import Deliverer
from idp.oidc.logout.outbox import Job
from idp.oidc.logout.service import end_sessions, expired_sessions

log = logging.getLogger("idp.logout")


class LogoutDispatcher:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._deliverer = Deliverer(ctx)
        self._inflight: set[asyncio.Task[None]] = set()
        self._worker = PollingWorker(
            "idp-logout-worker", self._pass, ctx.settings.logout.poll_interval
        )
        self._last_sweep = -1e9

    # --- right after a logout -----------------------------------------------------------------

    async def deliver_now(self, jobs: list[Job], wait: float | None = None) -> None:
        """Deliver jobs this process claimed; wait at most ``wait`` seconds, then let them
        finish in the background. Whatever does not finish is retried by a worker later."""
        if not jobs:
            return
        task = asyncio.create_task(self._run(jobs))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        timeout = self._ctx.settings.logout.inline_wait if wait is None else wait
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout)

    async def _run(self, jobs: list[Job]) -> None:
        try:
            outcomes = await self._deliverer.deliver_all(jobs)
            now = self._ctx.clock.now()
            async with self._ctx.db.transaction() as session:
                finished = await outbox.record(session, outcomes, now, self._ctx.settings.logout)
                for row in finished:
                    record(
                        session,
                        "logout.backchannel",
                        at=now,
                        outcome=row.status,
                        client_id=row.client_id,
                        attempts=row.attempts,
                        error=row.last_error,
                    )
        except Exception:  # the lease makes a worker retry whatever this pass lost
            log.exception("logout delivery pass failed")

    # --- the background worker ----------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()
        for task in list(self._inflight):
            task.cancel()
        for task in list(self._inflight):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._deliverer.close()

    async def _pass(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= self._ctx.settings.logout.sweep_interval:
            self._last_sweep = now
            await self.sweep_expired()
        await self.run_due()

    async def run_due(self) -> int:
        """Claim and deliver every due delivery once; returns how many were attempted."""
        async with self._ctx.db.transaction() as session:
            jobs = await outbox.claim_due(session, self._ctx.clock.now(), self._ctx.settings.logout)
        if jobs:
            await self._run(jobs)
        return len(jobs)

    async def sweep_expired(self) -> int:
        """End sessions that ran out (idle or absolute) with the same fan-out as a logout."""
        settings = self._ctx.settings
        async with self._ctx.db.transaction() as session:
            expired = await expired_sessions(
                session, self._ctx.clock.now(), settings.sessions.idle_ttl, limit=500
            )
            ended = await end_sessions(
                session, self._ctx, expired, reason="expired", actor="system", claim=False
            )
        return len(ended.session_ids)
