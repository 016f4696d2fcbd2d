"""The notification outbox: messages are written in the request's transaction and sent by a
worker, never inside the request (a slow gateway must not slow a page, a crash loses nothing).
The payload, which may hold a one-time code, is sealed with the key ring."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Notification
from idp.jobs.worker import backoff
from idp.notify.protocol import Channel
from idp.security.sealing import Keyring
from idp.settings import NotifySettings

PENDING, SENT, FAILED = "pending", "sent", "failed"
_PURPOSE = "notification"


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: uuid.UUID
    channel: Channel
    to: str
    template: str
    locale: str
    params: dict[str, str]


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
) -> uuid.UUID:
    notification_id = uuid.uuid4()
    payload = json.dumps({"to": to, "locale": locale, "params": params}).encode()
    session.add(
        Notification(
            id=notification_id,
            channel=channel,
            template=template,
            payload_enc=keyring.seal(_PURPOSE, payload, str(notification_id)),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            deadline=now + timedelta(seconds=settings.retry_period),
            created_at=now,
        )
    )
    return notification_id


async def claim_due(
    session: AsyncSession, keyring: Keyring, now: datetime, settings: NotifySettings
) -> list[Outgoing]:
    rows = (
        await session.scalars(
            select(Notification)
            .where(Notification.status == PENDING, Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at)
            .limit(settings.batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    claimed = []
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=settings.lease)
        payload = json.loads(keyring.open(_PURPOSE, row.payload_enc, str(row.id)))
        channel: Channel = "sms" if row.channel == "sms" else "email"
        claimed.append(
            Outgoing(
                row.id, channel, payload["to"], row.template, payload["locale"], payload["params"]
            )
        )
    return claimed


async def record(
    session: AsyncSession,
    results: dict[uuid.UUID, tuple[bool, str | None, bool]],
    now: datetime,
    settings: NotifySettings,
) -> None:
    """``results``: id → (sent, error, permanent failure)."""
    if not results:
        return
    rows = (await session.scalars(select(Notification).where(Notification.id.in_(results)))).all()
    for row in rows:
        sent, error, permanent = results[row.id]
        row.last_error = error[:500] if error else None
        if sent:
            row.status, row.finished_at = SENT, now
        elif permanent or now >= row.deadline:
            row.status, row.finished_at = FAILED, now
        else:
            row.next_attempt_at = now + timedelta(
                seconds=backoff(row.attempts, settings.backoff_base, settings.backoff_max)
            )
