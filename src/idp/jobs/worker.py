"""A background loop that runs a pass every interval, or sooner when woken, and survives
failed passes (a database restart must not stop delivery for good)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger("idp.jobs")
# Its own generator: the jitter never moves the global one, which a test in the same process
# (Hypothesis watches it) or a seeded caller may rely on while the workers run beside it.
_jitter = random.Random()  # noqa: S311 - jitter, not a secret


def backoff(attempts: int, base: float, cap: float) -> float:
    """Exponential, capped, with jitter so many retries do not arrive in lockstep."""
    delay = min(cap, base * 2.0 ** max(0, attempts - 1))
    return delay * _jitter.uniform(0.5, 1.0)


class PollingWorker:
    def __init__(self, name: str, run_pass: Callable[[], Awaitable[object]], interval: float):
        self._name = name
        self._run_pass = run_pass
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            # Cleared before the pass: a wake that arrives during it starts the next one at once.
            self._wake.clear()
            try:
                await self._run_pass()
            except Exception:  # log and go on; the next pass retries
                log.exception("%s pass failed", self._name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
