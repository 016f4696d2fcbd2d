"""The development sink: messages are stored in the database and shown at /dev/mailbox."""

from __future__ import annotations

from idp.clock import Clock
from idp.db.engine import Database
from idp.db.models import DevMessage
from idp.notify.protocol import Message, NotifierSetup


class DevSinkNotifier:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def send(self, message: Message) -> None:
        async with self._db.transaction() as session:
            session.add(
                DevMessage(
                    channel=message.channel,
                    recipient=message.to,
                    subject=message.subject,
                    body=message.body,
                    created_at=self._clock.now(),
                )
            )

    async def close(self) -> None:
        return None


def build(setup: NotifierSetup) -> DevSinkNotifier:
    return DevSinkNotifier(setup.db, setup.clock)
