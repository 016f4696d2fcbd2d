"""Handlers by kind: what runs a job, and the rules of its retries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from idp.jobs.errors import ConfigurationError
from idp.jobs.queue import ClaimedJob, Outcome


class Handler(Protocol):
    """Runs one try of a job. Raising is allowed: the try is recorded as failed with the
    exception as its reason and retried later; it never affects other jobs."""

    async def run(self, job: ClaimedJob) -> Outcome: ...

    async def close(self) -> None: ...


# A try is cut off at this share of its lease when the kind names no run timeout: what is left
# of the lease is for writing the result while the claim is still ours.
DEFAULT_RUN_SHARE = 0.8


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
    run_timeout: float | None = None  # one try's limit; None: 80% of the lease
    # Names for the ":"-separated parts of a job's ``ref`` in the failed-try log line (never
    # personal data: a ref is what operators see in `idp jobs list`).
    ref_fields: tuple[str, ...] = ("ref",)

    def __post_init__(self) -> None:
        # A try that outlives its lease races the worker that claims the job next.
        if self.lease <= 0:
            raise ConfigurationError(f"a job lease must be positive, not {self.lease}")
        if self.run_timeout is not None and not 0 < self.run_timeout < self.lease:
            raise ConfigurationError(
                f"a job's run timeout ({self.run_timeout} s) must be positive and shorter "
                f"than its lease ({self.lease} s)"
            )
        if self.concurrency < 1 or self.batch_size < 1:
            raise ConfigurationError("a job kind needs a batch size and a concurrency of 1 or more")

    @property
    def time_limit(self) -> float:
        """How long one try may run."""
        return self.run_timeout if self.run_timeout is not None else self.lease * DEFAULT_RUN_SHARE


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
