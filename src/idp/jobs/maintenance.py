"""Periodic clean-up of expired short-lived rows. Safe to run on every instance at once:
each pass is a set of idempotent deletes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import delete

from idp.context import Context
from idp.db.models import (
    AuthorizationCode,
    ClientAssertionJti,
    Interaction,
    RevokedAccessToken,
)

log = logging.getLogger("idp.jobs")


class Maintenance:
    def __init__(self, ctx: Context, interval: float = 300.0) -> None:
        self._ctx = ctx
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="idp-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:  # a failed pass must not stop later ones
                log.exception("maintenance pass failed")

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
