"""Helpers for the contract suites that plug-ins of every kind must pass.

A contract suite is a plain class of ``test_…`` methods (``idp.notify.contract`` is the first);
a plug-in's author subclasses it in a pytest module and provides a harness. Checks run through
:func:`run_check`, so the suites need no async test plug-in and leave the author's loop alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

HarnessT = TypeVar("HarnessT")


def run_check(
    harness: Callable[[], AbstractAsyncContextManager[HarnessT]],
    check: Callable[[HarnessT], Awaitable[None]],
    timeout: float,
) -> None:
    """Run ``check`` against a fresh harness, in an event loop of its own, within ``timeout``."""

    async def main() -> None:
        async with harness() as opened:
            await asyncio.wait_for(check(opened), timeout)

    # Never installed as the thread's current loop: a pytest-asyncio or anyio loop of the
    # caller's stays as it was.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
