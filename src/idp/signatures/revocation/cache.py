"""A per-process cache of revocation answers: LRU-bounded, each entry kept until its own
expiry, and single-flight: callers asking for the same key while it is being fetched share
that one fetch (thirty verifications of certificates of one CA make one CRL download)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime

from idp.clock import Clock

Fetched = tuple[bytes, datetime]  # the answer and until when it may be reused


class SharedCache:
    def __init__(self, size: int, clock: Clock) -> None:
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[Hashable, Fetched] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Task[Fetched]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, key: Hashable) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock.now():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[Fetched]]) -> bytes:
        hit = self.cached(key)
        if hit is not None:
            return hit
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fill(key, fetch))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: a caller that gives up (its own timeout) does not cancel the others' fetch.
        data, _ = await asyncio.shield(task)
        return data

    async def _fill(self, key: Hashable, fetch: Callable[[], Awaitable[Fetched]]) -> Fetched:
        data, until = await fetch()
        if self._size > 0 and until > self._clock.now():
            self._entries[key] = (data, until)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return data, until

    def _settled(self, key: Hashable, task: asyncio.Task[Fetched]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have given up already

    async def aclose(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._entries.clear()
