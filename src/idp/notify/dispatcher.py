"""Sends what the outbox holds, through the backend configured for each channel."""

from __future__ import annotations

import asyncio
import uuid

from idp.context import Context
from idp.jobs.worker import PollingWorker
from idp.notify import outbox, registry
from idp.notify.messages import render
from idp.notify.protocol import Channel, DeliveryFailed, Notifier


def build_notifiers(ctx: Context) -> dict[Channel, Notifier]:
    return registry.build_notifiers(ctx.settings, ctx.db, ctx.clock)


class NotificationDispatcher:
    def __init__(self, ctx: Context, notifiers: dict[Channel, Notifier] | None = None) -> None:
        self._ctx = ctx
        self._notifiers = notifiers or build_notifiers(ctx)
        self._worker = PollingWorker("idp-notify", self.run_due, ctx.settings.notify.poll_interval)

    def start(self) -> None:
        self._worker.start()

    def wake(self) -> None:
        """Called after a request committed new messages: send them without waiting a poll."""
        self._worker.wake()

    async def stop(self) -> None:
        await self._worker.stop()
        for notifier in set(self._notifiers.values()):
            await notifier.close()

    async def run_due(self) -> int:
        ctx = self._ctx
        async with ctx.db.transaction() as session:
            due = await outbox.claim_due(session, ctx.keyring, ctx.clock.now(), ctx.settings.notify)
        if not due:
            return 0
        results = dict(await asyncio.gather(*(self._send(item) for item in due)))
        async with ctx.db.transaction() as session:
            await outbox.record(session, results, ctx.clock.now(), ctx.settings.notify)
        return len(due)

    async def _send(self, item: outbox.Outgoing) -> tuple[uuid.UUID, tuple[bool, str | None, bool]]:
        message = render(item.channel, item.to, item.template, item.locale, item.params)
        try:
            await self._notifiers[item.channel].send(message)
        except DeliveryFailed as exc:
            return item.id, (False, str(exc), exc.permanent)
        return item.id, (True, None, False)
