"""The trust list as verification reads it: a per-instance copy (``TrustSource``).

Each instance keeps the trusted anchors as one immutable tuple and, at most once per
``recheck`` seconds, reads the ``trust`` cache generation that every change raises in its own
transaction; only when it moved is the list read again. Callers arriving while a reload runs
wait for that one reload rather than starting their own.

When that check fails (the database is unreachable) and the instance has a copy, it serves
the copy rather than failing the verification, logs a warning once per outage, and tries again
after ``retry_after`` seconds. With no copy yet, the failure is raised.
"""

from __future__ import annotations

import asyncio
import logging
import time

from idp.clock import Clock
from idp.db.engine import Database
from idp.signatures.protocol import TrustedCA
from idp.signatures.trust import repository

log = logging.getLogger("idp.signatures.trust")

RETRY_AFTER = 5.0  # seconds between two checks while the database fails


class TrustStore:
    """``clock`` is the seam verification shares; the accreditation windows are judged
    against the signing time by the checker, not here."""

    def __init__(
        self, db: Database, clock: Clock, recheck: float, *, retry_after: float = RETRY_AFTER
    ) -> None:
        self._db = db
        self._clock = clock
        self._recheck = recheck
        self._retry_after = retry_after
        self._anchors: tuple[TrustedCA, ...] | None = None
        self._generation: int | None = None
        self._next_check = 0.0
        self._lock = asyncio.Lock()
        self._failing = False
        self.reloads = 0  # how many times the list itself was read (tests, metrics)
        self.failed_checks = 0  # how many checks failed and the copy was served (same)

    async def anchors(self) -> tuple[TrustedCA, ...]:
        if self._anchors is not None and time.monotonic() < self._next_check:
            return self._anchors
        async with self._lock:
            if self._anchors is not None and time.monotonic() < self._next_check:
                return self._anchors  # another caller reloaded while this one waited
            try:
                await self._follow()
            except Exception as exc:
                if self._anchors is None:
                    raise  # nothing to serve: verification cannot go on without the list
                self._served_stale(exc)
            else:
                if self._failing:
                    self._failing = False
                    log.info("trust list check works again")
            assert self._anchors is not None
            return self._anchors

    def _served_stale(self, exc: Exception) -> None:
        self.failed_checks += 1
        self._next_check = time.monotonic() + self._retry_after
        if not self._failing:  # once per outage, not once per verification
            self._failing = True
            log.warning(
                "trust list check failed, serving the copy this instance has and trying "
                "again every %gs error=%s",
                self._retry_after,
                type(exc).__name__,
            )

    def invalidate(self) -> None:
        """Check the generation on the next call (this instance just changed the list)."""
        self._next_check = 0.0

    async def _follow(self) -> None:
        async with self._db.read() as session:
            current = await repository.generation(session)
            if self._anchors is None or current != self._generation:
                rows = await repository.trusted(session)
                self._anchors = tuple(
                    TrustedCA(
                        fingerprint=row.fingerprint,
                        certificate=row.certificate,
                        name=row.name,
                        accredited_from=row.accredited_from,
                        accredited_until=row.accredited_until,
                        source_kind=row.source_kind,
                    )
                    for row in rows
                    # The development CA lives in memory, in dev mode only; a row claiming to be
                    # it (an old development database) is never trusted from the list.
                    if row.source_kind != "dev"
                )
                self._generation = current
                self.reloads += 1
        self._next_check = time.monotonic() + self._recheck
