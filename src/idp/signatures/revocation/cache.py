"""Per-process caches of revocation answers.

``SharedCache`` keeps answers bounded by count and by total bytes (least recently used go
first), each until its own expiry, and is single-flight: callers asking for the same key
while it is being fetched share that one fetch (thirty verifications of certificates of one
CA make one CRL download). ``RecentFailures`` remembers, for a short while, that a URL just
failed, so a dead responder costs its timeout once per window, not once per verification.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta

from idp.clock import Clock

Fetched = tuple[bytes, datetime]  # the answer and until when it may be reused


class SharedCache:
    def __init__(self, size: int, clock: Clock, *, max_bytes: int | None = None) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[Hashable, Fetched] = OrderedDict()
        self._bytes = 0
        self._inflight: dict[Hashable, asyncio.Task[Fetched]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, key: Hashable) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock.now():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def discard(self, match: Callable[[Hashable], bool]) -> int:
        """Forget every kept answer whose key ``match``es; how many. A fetch under way is not
        stopped: it was asked after whatever made the caller distrust the kept answer."""
        doomed = [key for key in self._entries if match(key)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

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
        fits = self._max_bytes is None or len(data) <= self._max_bytes
        if self._size > 0 and fits and until > self._clock.now():
            self._drop(key)
            self._entries[key] = (data, until)
            self._bytes += len(data)
            while len(self._entries) > self._size or (
                self._max_bytes is not None and self._bytes > self._max_bytes
            ):
                self._drop(next(iter(self._entries)))
        return data, until

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[0])

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
        self._bytes = 0


class RecentFailures:
    """What each URL's last failure said, for ``ttl`` seconds after it; at most ``size`` URLs
    (the oldest forgotten first), so certificates naming endless URLs cannot grow it."""

    def __init__(self, ttl: float, clock: Clock, size: int = 1024) -> None:
        self._ttl = timedelta(seconds=ttl)
        self._clock = clock
        self._size = size
        self._failures: OrderedDict[str, tuple[str, datetime]] = OrderedDict()

    def recent(self, url: str) -> str | None:
        found = self._failures.get(url)
        if found is None:
            return None
        if found[1] <= self._clock.now():
            del self._failures[url]
            return None
        return found[0]

    def remember(self, url: str, message: str) -> None:
        if not self._ttl:
            return
        self._failures.pop(url, None)
        self._failures[url] = (message, self._clock.now() + self._ttl)
        while len(self._failures) > self._size:
            self._failures.popitem(last=False)

    def forget(self, url: str) -> None:
        self._failures.pop(url, None)
