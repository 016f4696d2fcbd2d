"""What runs beside the HTTP server, or without it in ``idp worker``: the job queue's workers
(with every handler registered), the session expiry sweep and the maintenance clean-up."""

from __future__ import annotations

from typing import Any

from idp.context import Context
from idp.jobs.maintenance import Maintenance
from idp.jobs.registry import Registry
from idp.jobs.runner import JobRunner
from idp.jobs.worker import PollingWorker
from idp.levels.verification import handler as registry_checks
from idp.levels.verifiers.protocol import CheckKind
from idp.levels.verifiers.registry import build_verifiers
from idp.notify import outbox as notifications
from idp.notify.dispatcher import build_notifiers
from idp.notify.protocol import Channel, Notifier
from idp.oidc.logout import backchannel
from idp.sessions.service import BACKCHANNEL_LOGOUT, end_expired
from idp.signatures.trust import schedule as trust_refresh

Verifiers = dict[CheckKind, Any]


def build_registry(
    ctx: Context,
    notifiers: dict[Channel, Notifier] | None = None,
    verifiers: Verifiers | None = None,
) -> Registry:
    """Every job kind and its handler. A new kind is added here. ``notifiers`` and
    ``verifiers``: given by tests; otherwise built from settings, once per process."""
    registry = Registry()
    notifications.register(registry, ctx.settings.notify, notifiers or build_notifiers(ctx))
    backchannel.register(registry, ctx)
    registry_checks.register(
        registry, ctx, verifiers or build_verifiers(ctx.settings.registries, ctx.clock)
    )
    trust_refresh.register(registry, ctx)
    return registry


class Background:
    def __init__(
        self,
        ctx: Context,
        notifiers: dict[Channel, Notifier] | None = None,
        verifiers: Verifiers | None = None,
    ) -> None:
        self._ctx = ctx
        self.jobs = JobRunner(
            ctx.db,
            ctx.keyring,
            build_registry(ctx, notifiers, verifiers),
            stop_grace=ctx.settings.jobs.stop_grace,
        )
        self.maintenance = Maintenance(ctx)
        self.trust_schedule = trust_refresh.TrustSchedule(ctx)
        self._sweep = PollingWorker(
            "idp-session-sweep", self.sweep_expired, ctx.settings.logout.sweep_interval
        )

    def start(self) -> None:
        self.jobs.start()
        self._sweep.start()
        self.maintenance.start()
        self.trust_schedule.start()

    async def stop(self) -> None:
        await self.trust_schedule.stop()
        await self.maintenance.stop()
        await self._sweep.stop()
        await self.jobs.stop()

    async def sweep_expired(self) -> int:
        async with self._ctx.db.transaction() as session:
            ended = await end_expired(session, self._ctx)
        if ended.jobs:
            self.jobs.wake(BACKCHANNEL_LOGOUT)
        return len(ended.session_ids)
