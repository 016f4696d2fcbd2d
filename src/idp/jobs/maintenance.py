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
    LogoutDelivery,
    Notification,
    PasswordReset,
    Registration,
    RevokedAccessToken,
    ThrottleCounter,
    Verification,
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
            # Journeys nobody finished: kept a day past expiry for support questions.
            day_ago = now - timedelta(days=1)
            await session.execute(delete(Registration).where(Registration.expires_at < day_ago))
            await session.execute(delete(Verification).where(Verification.expires_at < day_ago))
            await session.execute(delete(PasswordReset).where(PasswordReset.expires_at < day_ago))
            # Sent messages may hold one-time codes (sealed): keep them no longer than a day.
            await session.execute(
                delete(Notification).where(
                    Notification.finished_at.is_not(None), Notification.finished_at < day_ago
                )
            )
            # Settled logout deliveries stay 30 days for operators, then go.
            await session.execute(
                delete(LogoutDelivery).where(
                    LogoutDelivery.finished_at.is_not(None),
                    LogoutDelivery.finished_at < now - timedelta(days=30),
                )
            )
            window = timedelta(seconds=max(self._ctx.settings.throttle.window, 3600))
            await session.execute(
                delete(ThrottleCounter).where(
                    ThrottleCounter.last_failure_at < now - window,
                    (ThrottleCounter.blocked_until.is_(None))
                    | (ThrottleCounter.blocked_until < now),
                )
            )
