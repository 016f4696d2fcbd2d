"""The in-memory fake notifier: keeps what it is sent and fails when a test tells it to.

Registered as ``memory`` so settings can choose it; for tests and demos only, since what it
keeps is lost with the process.
"""

from __future__ import annotations

import asyncio
from collections import deque

from idp.notify.protocol import DeliveryFailed, Message, NotifierSetup


class MemoryNotifier:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.close_calls = 0
        self._next_failures: deque[bool] = deque()
        self._failing: bool | None = None  # fail every send (permanently or not) until recover()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def fail_next(self, count: int = 1, *, permanent: bool = False) -> None:
        """The next ``count`` sends raise ``DeliveryFailed`` and keep nothing."""
        self._next_failures.extend([permanent] * count)

    def fail_always(self, *, permanent: bool = False) -> None:
        self._failing = permanent

    def recover(self) -> None:
        self._next_failures.clear()
        self._failing = None

    def to(self, recipient: str) -> list[Message]:
        return [message for message in self.sent if message.to == recipient]

    async def wait_for(self, count: int) -> list[Message]:
        """Wait until at least ``count`` messages were sent (for senders running in the
        background), woken by the sends themselves rather than by polling. Bound it with
        ``asyncio.timeout``."""
        if len(self.sent) < count:
            arrived = asyncio.get_running_loop().create_future()
            self._waiters.append((count, arrived))
            await arrived
        return list(self.sent)

    async def send(self, message: Message) -> None:
        permanent = self._next_failures.popleft() if self._next_failures else self._failing
        if permanent is not None:
            kind = "permanent" if permanent else "temporary"
            raise DeliveryFailed(f"memory notifier told to fail ({kind})", permanent=permanent)
        self.sent.append(message)
        waiting = self._waiters
        self._waiters = [(n, f) for n, f in waiting if n > len(self.sent) and not f.done()]
        for needed, arrived in waiting:
            if needed <= len(self.sent) and not arrived.done():
                arrived.set_result(None)

    async def close(self) -> None:
        self.close_calls += 1


def build(setup: NotifierSetup) -> MemoryNotifier:
    return MemoryNotifier()
