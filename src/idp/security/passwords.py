"""argon2id hashing off the event loop, in a pool sized to the cores, with a bounded queue.

Every hash takes a worker for tens of milliseconds and ~19 MiB; a flood of logins must not
queue without limit (each waiting request holds a connection and its client waits anyway).
At most ``max_waiting`` hashes wait for a worker; the next one is refused at once with
``ServerBusy`` (503 and Retry-After), before any work is done.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idp.errors import ServerBusy
from idp.settings import Argon2Settings

T = TypeVar("T")


def normalize(password: str) -> str:
    # NIST 800-63B-4 §3.1.1.2: normalise Unicode so the NFC and NFD forms of a password match.
    return unicodedata.normalize("NFKC", password)


class PasswordService:
    def __init__(self, settings: Argon2Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.time_cost,
            memory_cost=settings.memory_cost_kib,
            parallelism=settings.parallelism,
        )
        # argon2-cffi releases the GIL while hashing, so threads give real parallelism.
        self.workers = settings.pool_size or (os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="argon2")
        self._capacity = self.workers + settings.max_waiting
        self._busy_retry_after = settings.busy_retry_after
        self._in_pool = 0  # running or waiting; touched only on the event loop's thread
        self._dummy = self._hasher.hash("an unused password for timing parity")

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, normalize(password))

    async def verify(self, stored: str | None, password: str) -> bool:
        """Verify; with no stored hash, burn the same time so unknown logins are not revealed."""
        target = stored or self._dummy
        ok = await self._run(self._check, target, normalize(password))
        return ok and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        # Admission is decided before the first await, so it is exact on one event loop.
        if self._in_pool >= self._capacity:
            raise ServerBusy(retry_after=self._busy_retry_after)
        self._in_pool += 1
        loop = asyncio.get_running_loop()
        job = self._pool.submit(work, *args)
        # Counted out when the hash itself ends (or is dropped before it starts), not when its
        # caller stops waiting: a cancelled request's hash still runs, taking room in the pool.
        job.add_done_callback(lambda _: self._left_pool(loop))
        return await asyncio.wrap_future(job)

    def _left_pool(self, loop: asyncio.AbstractEventLoop) -> None:
        # Called in the pool's thread; the count lives on the event loop's thread.
        with suppress(RuntimeError):  # the loop closed at shutdown: nothing left to count
            loop.call_soon_threadsafe(self._count_out)

    def _count_out(self) -> None:
        self._in_pool -= 1

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False)
