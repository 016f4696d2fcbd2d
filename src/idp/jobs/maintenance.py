"""Periodic clean-up of expired short-lived rows. Safe to run on every instance at once:
each pass is a set of idempotent deletes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from idp.context import Context
from idp.db.models import (
    AuthorizationCode,
    ClientAssertionJti,
    Interaction,
    RevokedAccessToken,
)
from idp.jobs.worker import PollingWorker


class Maintenance:
    def __init__(self, ctx: Context, interval: float = 300.0) -> None:
        self._ctx = ctx
        self._worker = PollingWorker("idp-maintenance", self.run_once, interval)

    def start(self) -> None:
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def run_once(self) -> None:
        now = self._ctx.clock.now()
        # Keep used codes a while: a replay within that time still revokes the grant.
        code_horizon = now - timedelta(hours=1)
        async with self._ctx.db.transaction() as session:
            await session.execute(
                delete(AuthorizationCode).where(AuthorizationCode.expires_at < code_horizon)
            )
            await session.execute(delete(Interaction).where(Interaction.expires_at < now))
            await session.execute(
                delete(ClientAssertionJti).where(ClientAssertionJti.expires_at < now)
            )
            await session.execute(
                delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now)
            )
