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
    PasswordReset,
    Registration,
    RevokedAccessToken,
    ThrottleCounter,
    Verification,
)
from idp.jobs import repository as jobs
from idp.jobs.dbtime import db_now
from idp.jobs.housekeeping import purge_expired
from idp.jobs.worker import PollingWorker

# How long settled jobs stay for operators, by kind. Sent messages may hold one-time codes
# (sealed): a day at most.
JOB_RETENTION = {"notification": timedelta(days=1)}
DEFAULT_JOB_RETENTION = timedelta(days=30)


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
            # Journeys nobody finished: kept a day past expiry for support questions.
            day_ago = now - timedelta(days=1)
            await session.execute(delete(Registration).where(Registration.expires_at < day_ago))
            await session.execute(delete(Verification).where(Verification.expires_at < day_ago))
            await session.execute(delete(PasswordReset).where(PasswordReset.expires_at < day_ago))
            # Settled jobs carry the database's time (see idp.jobs.dbtime).
            db_time = await db_now(session)
            for kind, keep in JOB_RETENTION.items():
                await jobs.purge_settled(session, db_time - keep, kinds=[kind])
            await jobs.purge_settled(
                session, db_time - DEFAULT_JOB_RETENTION, other_than=list(JOB_RETENTION)
            )
            window = timedelta(seconds=max(self._ctx.settings.throttle.window, 3600))
            await session.execute(
                delete(ThrottleCounter).where(
                    ThrottleCounter.last_failure_at < now - window,
                    (ThrottleCounter.blocked_until.is_(None))
                    | (ThrottleCounter.blocked_until < now),
                )
            )
        await self.purge_grants_tokens_and_sessions()

    async def purge_grants_tokens_and_sessions(self) -> dict[str, int]:
        """Grants, refresh tokens, browser sessions and send counters past their end plus the
        retention, in bounded batches, each in its own transaction (``idp.jobs.housekeeping``)."""
        return await purge_expired(self._ctx.db, self._ctx.settings, self._ctx.clock.now())
