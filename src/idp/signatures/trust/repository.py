"""The SQL of the trust list: anchors by fingerprint and by source, the ``trust`` cache
generation, and the refresh job's one row."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import CacheGeneration, QueuedJob, TrustAnchor
from idp.jobs.dbtime import dialect_of, now_sql
from idp.jobs.queue import DONE, FAILED, PENDING

GENERATION = "trust"


def _insert(session: AsyncSession) -> Any:
    return pg_insert if dialect_of(session) == "postgresql" else sqlite_insert


async def bump_generation(session: AsyncSession) -> None:
    """Raise the trust list's generation. Taken first in a change, the row lock also
    serialises changes to the list on PostgreSQL (SQLite's writer lock already does)."""
    result = await session.execute(
        update(CacheGeneration)
        .where(CacheGeneration.name == GENERATION)
        .values(generation=CacheGeneration.generation + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await session.execute(
            _insert(session)(CacheGeneration)
            .values(name=GENERATION, generation=1)
            .on_conflict_do_update(
                index_elements=["name"], set_={"generation": CacheGeneration.generation + 1}
            )
        )


async def generation(session: AsyncSession) -> int:
    stmt = select(CacheGeneration.generation).where(CacheGeneration.name == GENERATION)
    return int((await session.scalars(stmt)).first() or 0)


async def by_fingerprints(
    session: AsyncSession, fingerprints: Iterable[str]
) -> dict[str, TrustAnchor]:
    wanted = list(fingerprints)
    found: dict[str, TrustAnchor] = {}
    for start in range(0, len(wanted), 500):  # bounded IN lists
        rows = await session.scalars(
            select(TrustAnchor).where(TrustAnchor.fingerprint.in_(wanted[start : start + 500]))
        )
        found.update((row.fingerprint, row) for row in rows)
    return found


async def listed_by(session: AsyncSession, source: str) -> list[TrustAnchor]:
    """The anchors of ``source`` that are not withdrawn."""
    rows = await session.scalars(
        select(TrustAnchor).where(TrustAnchor.source == source, TrustAnchor.withdrawn_at.is_(None))
    )
    return list(rows)


async def insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert the anchor unless its fingerprint is there (the unique constraint decides between
    concurrent callers); whether this call inserted it."""
    result = await session.execute(
        _insert(session)(TrustAnchor)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_nothing(index_elements=["fingerprint"])
        .returning(TrustAnchor.id)
    )
    return result.scalar_one_or_none() is not None


async def change(session: AsyncSession, anchor_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(update(TrustAnchor).where(TrustAnchor.id == anchor_id).values(**values))


async def listing(session: AsyncSession, *, include_withdrawn: bool) -> list[TrustAnchor]:
    stmt = select(TrustAnchor).order_by(TrustAnchor.name, TrustAnchor.fingerprint)
    if not include_withdrawn:
        stmt = stmt.where(TrustAnchor.withdrawn_at.is_(None), TrustAnchor.blocked_at.is_(None))
    return list(await session.scalars(stmt))


async def block(session: AsyncSession, fingerprint: str, now: datetime) -> bool:
    """Block the anchor (and withdraw it, keeping an earlier withdrawal's time) unless it is
    blocked already; whether this call blocked it. One guarded UPDATE: two operators blocking
    at once block it once."""
    result = await session.execute(
        update(TrustAnchor)
        .where(TrustAnchor.fingerprint == fingerprint, TrustAnchor.blocked_at.is_(None))
        .values(
            blocked_at=now,
            withdrawn_at=func.coalesce(TrustAnchor.withdrawn_at, now),
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def by_fingerprint(session: AsyncSession, fingerprint: str) -> TrustAnchor | None:
    stmt = select(TrustAnchor).where(TrustAnchor.fingerprint == fingerprint)
    return (await session.scalars(stmt)).first()


async def trusted(session: AsyncSession) -> Sequence[TrustAnchor]:
    return await listing(session, include_withdrawn=False)


async def ensure_job(
    session: AsyncSession,
    job_id: uuid.UUID,
    kind: str,
    ref: str,
    deadline_in: float,
    every: float | None = None,
) -> bool:
    """Make the one refresh job exist and be live: insert it under its fixed id (the primary
    key decides between instances starting together), or re-arm it if it was settled or, when
    ``every`` is given, if it waits longer than ``every`` seconds (the interval was shortened
    since it was scheduled). Whether anything changed."""
    dialect = dialect_of(session)
    inserted = await session.execute(
        _insert(session)(QueuedJob)
        .values(
            id=job_id,
            kind=kind,
            ref=ref,
            payload=b"{}",
            sealed=False,
            status=PENDING,
            attempts=0,
            next_attempt_at=now_sql(dialect),
            deadline=now_sql(dialect, deadline_in),
            created_at=now_sql(dialect),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(QueuedJob.id)
    )
    if inserted.scalar_one_or_none() is not None:
        return True
    rearmed = await session.execute(
        update(QueuedJob)
        .where(QueuedJob.id == job_id, QueuedJob.status.in_((DONE, FAILED)))
        .values(
            status=PENDING,
            result=None,
            finished_at=None,
            claim_token=None,
            next_attempt_at=now_sql(dialect),
            deadline=now_sql(dialect, deadline_in),
        )
    )
    if rearmed.rowcount or every is None:  # type: ignore[attr-defined]
        return bool(rearmed.rowcount)  # type: ignore[attr-defined]
    # A job still waiting out an interval longer than the one configured now is due now
    # (then waits the new interval); a running job (its lease) is left alone.
    hastened = await session.execute(
        update(QueuedJob)
        .where(
            QueuedJob.id == job_id,
            QueuedJob.status == PENDING,
            QueuedJob.next_attempt_at > now_sql(dialect, every),
        )
        .values(next_attempt_at=now_sql(dialect))
    )
    return bool(hastened.rowcount)  # type: ignore[attr-defined]
