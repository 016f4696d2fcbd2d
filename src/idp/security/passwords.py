"""argon2id hashing off the event loop, in a pool sized to the cores."""

from __future__ import annotations

import asyncio
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idp.settings import Argon2Settings


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
        workers = settings.pool_size or (os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._dummy = self._hasher.hash("an unused password for timing parity")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, normalize(password))

    async def verify(self, stored: str | None, password: str) -> bool:
        """Verify; with no stored hash, burn the same time so unknown logins are not revealed."""
        loop = asyncio.get_running_loop()
        target = stored or self._dummy
        ok = await loop.run_in_executor(self._pool, self._check, target, normalize(password))
        return ok and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False)
