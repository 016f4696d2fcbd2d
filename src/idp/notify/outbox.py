"""Notifications as jobs of the one queue (kind ``notification``): written in the request's
transaction and sent by a worker, never inside the request (a slow gateway must not slow a
page, a crash loses nothing). The payload, which may hold a one-time code, is sealed.

Delivery is at least once: a worker that dies after handing a message to the gateway and
before recording it sends it again after the lease. A repeated code or notice is harmless.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from idp.jobs.queue import ClaimedJob, Outcome
from idp.jobs.queue import enqueue as enqueue_job
from idp.jobs.registry import KindPolicy, Registry
from idp.notify.messages import render
from idp.notify.protocol import Channel, DeliveryFailed, Notifier
from idp.security.sealing import Keyring
from idp.settings import NotifySettings

NOTIFICATION = "notification"
SENT = "sent"


def enqueue(
    session: AsyncSession,
    keyring: Keyring,
    *,
    channel: Channel,
    to: str,
    template: str,
    locale: str,
    params: dict[str, str],
    now: datetime,
    settings: NotifySettings,
    valid_until: datetime | None = None,
) -> uuid.UUID:
    """Queue one message. A message carrying a code or a link gives ``valid_until``: once the
    code is dead, sending it late helps nobody and only confuses, so the job's deadline is
    then the code's end (never later than the retry period)."""
    deadline_in = float(settings.retry_period)
    if valid_until is not None:
        deadline_in = max(0.0, min(deadline_in, (valid_until - now).total_seconds()))
    payload = {"channel": channel, "to": to, "template": template, "locale": locale}
    return enqueue_job(
        session,
        NOTIFICATION,
        {**payload, "params": params},
        deadline_in=deadline_in,
        keyring=keyring,
        ref=f"{channel}:{template}",
    ).id


class NotificationHandler:
    def __init__(self, notifiers: dict[Channel, Notifier]) -> None:
        self._notifiers = notifiers

    async def run(self, job: ClaimedJob) -> Outcome:
        # A missing field fails this job alone, for good (MissingKey); an unknown template
        # raises in render: that try fails with the reason, the others go on.
        channel: Channel = "sms" if job.value("channel") == "sms" else "email"
        message = render(
            channel,
            job.value("to"),
            job.value("template"),
            job.value("locale"),
            job.value("params"),
        )
        try:
            await self._notifiers[channel].send(message)
        except DeliveryFailed as exc:
            if exc.permanent:
                return Outcome.failed(str(exc))
            return Outcome.retry(str(exc))
        return Outcome.done(SENT)

    async def close(self) -> None:
        for notifier in set(self._notifiers.values()):
            await notifier.close()


def register(
    registry: Registry, settings: NotifySettings, notifiers: dict[Channel, Notifier]
) -> None:
    registry.register(
        NOTIFICATION,
        NotificationHandler(notifiers),
        KindPolicy(
            lease=settings.lease,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
            batch_size=settings.batch_size,
            concurrency=settings.batch_size,
            poll_interval=settings.poll_interval,
            ref_fields=("channel", "template"),  # the ref is "sms:code", never the recipient
        ),
    )
