"""Handlers by kind: what runs a job, and the rules of its retries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from idp.jobs.queue import ClaimedJob, Outcome


class Handler(Protocol):
    """Runs one try of a job. Raising is allowed: the try is recorded as failed with the
    exception as its reason and retried later; it never affects other jobs."""

    async def run(self, job: ClaimedJob) -> Outcome: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class KindPolicy:
    lease: float  # seconds a claim holds; a worker that dies is replaced after this
    backoff_base: float
    backoff_max: float
    batch_size: int  # jobs claimed at once
    concurrency: int  # jobs of this kind running at once in one process
    poll_interval: float
    inline_wait: float = 0.0  # run_now waits this long by default
    audit_event: str | None = None  # written when a job settles; its ``ref`` as client_id


@dataclass(frozen=True, slots=True)
class Registration:
    kind: str
    handler: Handler
    policy: KindPolicy


class Registry:
    def __init__(self) -> None:
        self._kinds: dict[str, Registration] = {}

    def register(self, kind: str, handler: Handler, policy: KindPolicy) -> None:
        if kind in self._kinds:
            raise ValueError(f"job kind {kind!r} is registered twice")
        if len(kind) > 32:
            raise ValueError(f"job kind {kind!r} is longer than 32 characters")
        self._kinds[kind] = Registration(kind, handler, policy)

    def get(self, kind: str) -> Registration:
        return self._kinds[kind]

    def __iter__(self) -> Iterator[Registration]:
        return iter(list(self._kinds.values()))
