"""Client lookups cached per process: no database round trip per request.

The cache holds only immutable snapshots. A change to a client (``idp clients update``,
``delete``, ``rotate-secret``, from any process) raises the ``clients`` cache generation in
its own transaction (``ClientRepository.bump_generation``); every instance reads that counter
at most once per ``recheck`` seconds and drops everything it holds when it moved. So a change
reaches every instance within ``recheck`` (default one second), and the TTL only bounds how
long an unchanged entry is kept. Nothing is lost on restart.
"""

from __future__ import annotations

import time

from idp.clients.model import ClientInfo
from idp.clients.repository import ClientRepository
from idp.db.engine import Database

_NEGATIVE_TTL = 2.0


class ClientCache:
    def __init__(self, db: Database, ttl: float, recheck: float = 1.0) -> None:
        self._db = db
        self._ttl = ttl
        self._recheck = recheck
        self._entries: dict[str, tuple[float, ClientInfo | None]] = {}
        self._generation: int | None = None
        self._next_check = 0.0
        # Raised whenever the entries are dropped: a lookup that began before keeps its
        # answer to itself (it may have read the row before the change committed).
        self._epoch = 0

    async def get(self, client_id: str) -> ClientInfo | None:
        if not client_id or len(client_id) > 64 or "\x00" in client_id:
            return None  # PostgreSQL text cannot hold NUL: no such client exists
        now = time.monotonic()
        await self._follow_generation(now)
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        epoch = self._epoch
        async with self._db.read() as session:
            row = await ClientRepository(session).get(client_id)
        info = ClientInfo.from_row(row) if row is not None else None
        if epoch != self._epoch:
            return info
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[client_id] = (now + (self._ttl if info else _NEGATIVE_TTL), info)
        return info

    async def _follow_generation(self, now: float) -> None:
        if now < self._next_check:
            return
        self._next_check = now + self._recheck  # one reader per interval, not one per request
        try:
            async with self._db.read() as session:
                generation = await ClientRepository(session).generation()
        except BaseException:
            self._next_check = 0.0
            raise
        if generation != self._generation:
            self._drop()
            self._generation = generation

    def _drop(self) -> None:
        self._entries.clear()
        self._epoch += 1

    def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)
        self._epoch += 1
