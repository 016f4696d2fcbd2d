"""The back-channel logout outbox: enqueue, claim with a lease, record outcomes.

A claimed row gets ``next_attempt_at = now + lease``: if the process delivering it dies, the row
becomes due again when the lease runs out and another worker takes it. On PostgreSQL claims use
``FOR UPDATE SKIP LOCKED`` so several instances never take the same row; SQLite serialises
writers anyway.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Client, LogoutDelivery
from idp.jobs.worker import backoff
from idp.settings import LogoutSettings

PENDING, DELIVERED, REJECTED, FAILED = "pending", "delivered", "rejected", "failed"


@dataclass(frozen=True, slots=True)
class Job:
    id: uuid.UUID
    client_id: str
    uri: str
    sub: str
    sid: str
    alg: str  # the client's ID token algorithm signs its logout tokens too


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: uuid.UUID
    status: str  # DELIVERED, REJECTED, or PENDING (try again)
    error: str | None = None


def _job(row: LogoutDelivery, alg: str) -> Job:
    return Job(row.id, row.client_id, row.uri, row.sub, row.sid, alg)


def enqueue(
    session: AsyncSession,
    *,
    session_id: uuid.UUID,
    client_id: str,
    uri: str,
    sub: str,
    sid: str,
    alg: str,
    now: datetime,
    settings: LogoutSettings,
    claim: bool,
) -> Job:
    """Add a delivery. With ``claim`` the caller will attempt it itself right after commit."""
    row = LogoutDelivery(
        id=uuid.uuid4(),
        session_id=session_id,
        client_id=client_id,
        sid=sid,
        sub=sub,
        uri=uri,
        status=PENDING,
        attempts=1 if claim else 0,
        next_attempt_at=now + timedelta(seconds=settings.lease) if claim else now,
        deadline=now + timedelta(seconds=settings.retry_period),
        created_at=now,
    )
    session.add(row)
    return _job(row, alg)


async def claim_due(session: AsyncSession, now: datetime, settings: LogoutSettings) -> list[Job]:
    stmt = (
        select(LogoutDelivery)
        .where(LogoutDelivery.status == PENDING, LogoutDelivery.next_attempt_at <= now)
        .order_by(LogoutDelivery.next_attempt_at)
        .limit(settings.batch_size)
        .with_for_update(skip_locked=True)
    )
    rows = (await session.scalars(stmt)).all()
    if not rows:
        return []
    result = await session.execute(
        select(Client.client_id, Client.id_token_signed_response_alg).where(
            Client.client_id.in_({row.client_id for row in rows})
        )
    )
    algs: dict[str, str] = {row.client_id: row.id_token_signed_response_alg for row in result}
    lease_until = now + timedelta(seconds=settings.lease)
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = lease_until
    return [_job(row, algs.get(row.client_id, "ES256")) for row in rows]


async def record(
    session: AsyncSession, outcomes: list[Outcome], now: datetime, settings: LogoutSettings
) -> list[LogoutDelivery]:
    """Store what happened; returns the rows that reached a final state."""
    if not outcomes:
        return []
    by_id = {o.job_id: o for o in outcomes}
    rows = (
        await session.scalars(
            select(LogoutDelivery).where(LogoutDelivery.id.in_(by_id)).with_for_update()
        )
    ).all()
    finished = []
    for row in rows:
        if row.status != PENDING:
            continue  # another attempt already settled it
        outcome = by_id[row.id]
        row.last_error = (outcome.error or "")[:500] or None
        if outcome.status in (DELIVERED, REJECTED):
            row.status = outcome.status
        elif now >= row.deadline:
            row.status = FAILED
        else:
            row.next_attempt_at = now + timedelta(
                seconds=backoff(row.attempts, settings.backoff_base, settings.backoff_max)
            )
            continue
        row.finished_at = now
        finished.append(row)
    return finished
