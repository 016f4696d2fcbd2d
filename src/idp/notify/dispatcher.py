"""The notification backend configured for each channel (the ``notification`` jobs of
``idp.notify.outbox`` send through them)."""

from __future__ import annotations

from idp.context import Context
from idp.notify import registry
from idp.notify.protocol import Channel, Notifier


def build_notifiers(ctx: Context) -> dict[Channel, Notifier]:
    return registry.build_notifiers(ctx.settings, ctx.db, ctx.clock)
