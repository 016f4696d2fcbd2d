"""The one durable job queue: what producers and handlers see.

A producer calls ``enqueue`` in its own transaction, so a job exists exactly when the change
that needs it was committed. A worker (``idp.jobs.runner``) claims due jobs under a lease and
runs the handler registered for the job's kind. Delivery is **at least once**: a worker that
dies after the handler's side effect but before recording it leaves the job to be run again
when its lease runs out, so every handler must let its consumer deduplicate (back-channel
logout re-sends the same ``jti``; a notification is harmless to repeat).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import QueuedJob
from idp.jobs.dbtime import dialect_of, now_sql
from idp.jobs.errors import JobPayloadError, MissingKey
from idp.security.sealing import Keyring
from idp.security.tokens import new_token

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
EXPIRED = "expired"  # the result of a job settled as failed because its deadline passed
SEAL_PURPOSE = "job"

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one try of a job came to. ``retry``: this try failed, try again later (until the
    deadline); ``wait``: nothing failed, run again after ``delay`` seconds (a registry that has
    not answered yet), until the deadline; ``failed``: final, retrying is useless; ``done``:
    final success. ``result`` is the handler's own word for a settled job (``delivered``,
    ``rejected``, ``sent``)."""

    status: Literal["done", "retry", "wait", "failed"]
    result: str | None = None
    error: str | None = None
    delay: float = 0.0

    @classmethod
    def done(cls, result: str = "done") -> Outcome:
        return cls("done", result)

    @classmethod
    def retry(cls, error: str) -> Outcome:
        return cls("retry", None, error)

    @classmethod
    def wait(cls, delay: float, note: str | None = None) -> Outcome:
        """Not a failure: look again in ``delay`` seconds. ``note`` is kept as the job's last
        word for operators (``waiting for the registry``)."""
        return cls("wait", None, note, max(0.0, delay))

    @classmethod
    def failed(cls, error: str, result: str = "error") -> Outcome:
        return cls("failed", result, error)


@dataclass(frozen=True, slots=True)
class JobRef:
    """A job just enqueued. With a ``claim_token`` the caller holds its lease and runs it
    itself right after the commit (``JobRunner.run_now``); otherwise a worker will."""

    id: uuid.UUID
    kind: str
    payload: Payload
    ref: str | None = None
    claim_token: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker holds the lease of. ``payload`` is None when it could not be opened, and
    ``payload_error`` then says why."""

    id: uuid.UUID
    kind: str
    ref: str | None
    payload: Payload | None
    attempts: int
    claim_token: str
    payload_error: str | None = None

    def value(self, key: str) -> Any:
        """A field of the payload; ``MissingKey`` (the job fails alone) when it is not there."""
        if self.payload is None:
            raise JobPayloadError(self.payload_error or "the payload could not be opened")
        if key not in self.payload:
            raise MissingKey(key)
        return self.payload[key]


def enqueue(
    session: AsyncSession,
    kind: str,
    payload: Payload,
    *,
    deadline_in: float,
    keyring: Keyring | None = None,
    ref: str | None = None,
    lease: float | None = None,
) -> JobRef:
    """Add a job to the caller's transaction. ``keyring``: seal the payload (it holds a
    secret, such as a one-time code). ``ref``: a short non-secret label operators see.
    ``lease``: claim it at once for that many seconds, for ``JobRunner.run_now``."""
    job_id = uuid.uuid4()
    raw = json.dumps(payload, separators=(",", ":")).encode()
    dialect = dialect_of(session)
    token = new_token(16) if lease is not None else None
    session.add(
        QueuedJob(
            id=job_id,
            kind=kind,
            ref=ref[:255] if ref else None,
            payload=keyring.seal(SEAL_PURPOSE, raw, str(job_id)) if keyring else raw,
            sealed=keyring is not None,
            status=RUNNING if lease is not None else PENDING,
            attempts=1 if lease is not None else 0,
            next_attempt_at=now_sql(dialect, lease or 0.0),
            claim_token=token,
            deadline=now_sql(dialect, deadline_in),
            created_at=now_sql(dialect),
        )
    )
    return JobRef(job_id, kind, payload, ref, token)
