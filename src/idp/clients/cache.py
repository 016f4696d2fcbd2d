"""Client lookups cached per process for a short TTL: no database round trip per request.

The cache holds only immutable snapshots and may lag an operator's change by at most the TTL,
which keeps every instance stateless in the sense that matters (nothing is lost on restart).
"""

from __future__ import annotations

import time

from idp.clients.model import ClientInfo
from idp.clients.repository import ClientRepository
from idp.db.engine import Database

_NEGATIVE_TTL = 2.0


class ClientCache:
    def __init__(self, db: Database, ttl: float) -> None:
        self._db = db
        self._ttl = ttl
        self._entries: dict[str, tuple[float, ClientInfo | None]] = {}

    async def get(self, client_id: str) -> ClientInfo | None:
        if not client_id or len(client_id) > 64 or "\x00" in client_id:
            return None  # PostgreSQL text cannot hold NUL: no such client exists
        now = time.monotonic()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        async with self._db.read() as session:
            row = await ClientRepository(session).get(client_id)
        info = ClientInfo.from_row(row) if row is not None else None
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[client_id] = (now + (self._ttl if info else _NEGATIVE_TTL), info)
        return info

    def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)
