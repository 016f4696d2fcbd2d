"""The SQL of the job queue: claim under a lease, settle only while the lease is ours, list,
purge. Every time is the database's (``now_sql``)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import QueuedJob
from idp.jobs.dbtime import dialect_of, now_sql
from idp.jobs.queue import (
    DONE,
    EXPIRED,
    FAILED,
    PENDING,
    RUNNING,
    SEAL_PURPOSE,
    ClaimedJob,
    Outcome,
)
from idp.security.sealing import Keyring
from idp.security.tokens import new_token

_LIVE = (PENDING, RUNNING)
_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Settled:
    """A job that reached a final state (for the audit log)."""

    id: uuid.UUID
    kind: str
    ref: str | None
    status: str
    result: str | None
    attempts: int
    last_error: str | None


# NUL is refused by PostgreSQL text; the other control characters have no place in a reason
# shown to operators and written to logs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def _clip(text: str | None, length: int = _ERROR_LENGTH) -> str | None:
    """A reason fit for the column: control characters replaced, at most ``length`` long."""
    if not text:
        return None
    return _CONTROL.sub(" ", text[: length * 2]).strip()[:length] or None


async def expire_overdue(session: AsyncSession, kind: str) -> list[Settled]:
    """Settle as failed the due jobs whose deadline passed (also those whose worker died)."""
    now = now_sql(dialect_of(session))
    # Rows another instance's sweep or claim holds are skipped, not waited for (PostgreSQL);
    # they are that instance's to settle, or the next sweep's.
    overdue = (
        await session.scalars(
            select(QueuedJob.id)
            .where(
                QueuedJob.kind == kind,
                QueuedJob.status.in_(_LIVE),
                QueuedJob.next_attempt_at <= now,
                QueuedJob.deadline <= now,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not overdue:
        return []
    rows = await session.execute(
        update(QueuedJob)
        .where(
            QueuedJob.id.in_(overdue),
            QueuedJob.status.in_(_LIVE),
            QueuedJob.next_attempt_at <= now,
        )
        .values(
            status=FAILED,
            result=EXPIRED,
            finished_at=now,
            claim_token=None,
            last_error=func.coalesce(QueuedJob.last_error, "deadline passed"),
        )
        .returning(*_SETTLED_COLUMNS)
    )
    return [Settled(*row) for row in rows]


async def claim(
    session: AsyncSession, keyring: Keyring, kind: str, limit: int, lease: float
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs of ``kind``: pending ones, and running ones whose lease
    ran out. Rows other workers hold are skipped (PostgreSQL); SQLite's writer lock, taken at
    BEGIN IMMEDIATE, serialises claims there."""
    dialect = dialect_of(session)
    now = now_sql(dialect)
    ids = (
        await session.scalars(
            select(QueuedJob.id)
            .where(
                QueuedJob.kind == kind,
                QueuedJob.status.in_(_LIVE),
                QueuedJob.next_attempt_at <= now,
            )
            .order_by(QueuedJob.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not ids:
        return []
    token = new_token(16)  # fresh per claim: an earlier holder's result no longer matches
    rows = await session.execute(
        update(QueuedJob)
        .where(QueuedJob.id.in_(ids))
        .values(
            status=RUNNING,
            claim_token=token,
            attempts=QueuedJob.attempts + 1,
            next_attempt_at=now_sql(dialect, lease),
        )
        .returning(
            QueuedJob.id, QueuedJob.ref, QueuedJob.payload, QueuedJob.sealed, QueuedJob.attempts
        )
    )
    claimed = []
    for job_id, ref, raw, sealed, attempts in rows:
        payload, problem = _open(keyring, job_id, raw, sealed)
        claimed.append(ClaimedJob(job_id, kind, ref, payload, attempts, token, problem))
    return claimed


def _open(
    keyring: Keyring, job_id: uuid.UUID, raw: bytes, sealed: bool
) -> tuple[dict[str, Any] | None, str | None]:
    """The payload, or None and why it cannot be opened (the job then fails alone)."""
    try:
        data = keyring.open(SEAL_PURPOSE, raw, str(job_id)) if sealed else raw
    except Exception:  # any damage to the seal
        return None, "the sealed payload could not be opened"
    try:
        payload = json.loads(data)
    except ValueError:
        return None, "the payload is not JSON"
    if not isinstance(payload, dict):
        return None, "the payload is not a JSON object"
    return payload, None


async def settle(
    session: AsyncSession, job: ClaimedJob, outcome: Outcome, retry_in: float
) -> Settled | None:
    """Write one try's outcome, only while the lease is still this claim's. Returns the row
    when it reached a final state; None when it is retried later or the result came too late
    (the lease ran out, by the database's clock, or another worker claimed or settled it)."""
    dialect = dialect_of(session)
    now = now_sql(dialect)
    ours = _still_ours(job, now)
    values: dict[str, Any]
    if outcome.status in ("retry", "wait"):
        if outcome.status == "wait":
            retry_in = outcome.delay
        overdue = QueuedJob.deadline <= now
        values = {
            "status": case((overdue, FAILED), else_=PENDING),
            "result": case((overdue, EXPIRED), else_=null()),
            "finished_at": case((overdue, now), else_=null()),
            "next_attempt_at": now_sql(dialect, retry_in),
        }
    else:
        values = {
            "status": DONE if outcome.status == "done" else FAILED,
            "result": _clip(outcome.result or outcome.status, 32),
            "finished_at": now,
        }
    row = (
        await session.execute(
            update(QueuedJob)
            .where(*ours)
            .values(claim_token=None, last_error=_clip(outcome.error), **values)
            .returning(*_SETTLED_COLUMNS)
        )
    ).first()
    if row is None:
        return None
    settled = Settled(*row)
    return settled if settled.status in (DONE, FAILED) else None


def _still_ours(job: ClaimedJob, now: ColumnElement[datetime]) -> tuple[ColumnElement[bool], ...]:
    # The claim token alone is not enough: a lease that ran out is anybody's to claim, and a
    # result written after that could land just before the next claim and be taken for its.
    return (
        QueuedJob.id == job.id,
        QueuedJob.claim_token == job.claim_token,
        QueuedJob.status == RUNNING,
        QueuedJob.next_attempt_at > now,
    )


async def release(
    session: AsyncSession, jobs: Sequence[ClaimedJob], *, started: bool = True
) -> int:
    """Hand back claimed jobs this worker will not finish (it is stopping, or has no free slot):
    due again at once for any instance, instead of when their leases run out. ``started``:
    whether their tries began (else they do not count as tries). Jobs whose lease already ran
    out are left alone (someone else may hold them now). Returns how many were handed back."""
    released = 0
    now = now_sql(dialect_of(session))
    for job in jobs:
        result = await session.execute(
            update(QueuedJob)
            .where(*_still_ours(job, now))
            .values(
                status=PENDING,
                claim_token=None,
                next_attempt_at=now,
                attempts=QueuedJob.attempts - (0 if started else 1),
            )
        )
        released += result.rowcount  # type: ignore[attr-defined]
    return released


_SETTLED_COLUMNS = (
    QueuedJob.id,
    QueuedJob.kind,
    QueuedJob.ref,
    QueuedJob.status,
    QueuedJob.result,
    QueuedJob.attempts,
    QueuedJob.last_error,
)


async def listing(
    session: AsyncSession,
    *,
    statuses: Sequence[str] | None = None,
    kind: str | None = None,
    ref: str | None = None,
    results: Sequence[str] | None = None,
    exclude_results: Sequence[str] | None = None,
    limit: int = 100,
) -> list[QueuedJob]:
    stmt = select(QueuedJob).order_by(QueuedJob.created_at.desc()).limit(limit)
    if statuses:
        stmt = stmt.where(QueuedJob.status.in_(statuses))
    if kind:
        stmt = stmt.where(QueuedJob.kind == kind)
    if ref:
        stmt = stmt.where(QueuedJob.ref == ref)
    if results:
        stmt = stmt.where(QueuedJob.result.in_(results))
    if exclude_results:
        stmt = stmt.where(QueuedJob.result.is_(None) | QueuedJob.result.not_in(exclude_results))
    return list((await session.scalars(stmt)).all())


async def purge_settled(
    session: AsyncSession,
    before: datetime,
    *,
    kinds: Sequence[str] = (),
    other_than: Sequence[str] = (),
) -> None:
    """Delete jobs settled before ``before``, of ``kinds`` or of every kind but ``other_than``."""
    stmt = delete(QueuedJob).where(
        QueuedJob.finished_at.is_not(None), QueuedJob.finished_at < before
    )
    if kinds:
        stmt = stmt.where(QueuedJob.kind.in_(kinds))
    if other_than:
        stmt = stmt.where(QueuedJob.kind.not_in(other_than))
    await session.execute(stmt)
