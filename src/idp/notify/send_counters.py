"""The SQL of send caps: one row per key, taken with a guarded upsert so that concurrent
senders on any number of instances never pass a cap between them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import SendCounter
from idp.db.types import UTCDateTime


async def take(
    session: AsyncSession, key: str, limit: int, now: datetime, window: timedelta
) -> int | None:
    """Count one send for ``key`` and return the count in its window, or None (nothing
    written) when the window already holds ``limit`` sends. A window older than ``window``
    starts again at ``now``."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stale = SendCounter.window_start <= literal(now - window, UTCDateTime())
    upsert = insert(SendCounter).values(key=key, window_start=now, sent=1)
    stmt = upsert.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "sent": case((stale, 1), else_=SendCounter.sent + 1),
            "window_start": case(
                (stale, literal(now, UTCDateTime())), else_=SendCounter.window_start
            ),
        },
        # The guard: the row is locked by the upsert, so this check and the increment are one.
        where=or_(stale, SendCounter.sent < limit),
    ).returning(SendCounter.sent)
    sent = (await session.execute(stmt)).scalar_one_or_none()
    return None if sent is None else int(sent)


async def give_back(session: AsyncSession, key: str) -> None:
    """Undo a ``take`` of this transaction (another cap refused the same send)."""
    await session.execute(
        update(SendCounter)
        .where(SendCounter.key == key, SendCounter.sent > 0)
        .values(sent=SendCounter.sent - 1)
    )


async def window_start(session: AsyncSession, key: str) -> datetime | None:
    return await session.scalar(select(SendCounter.window_start).where(SendCounter.key == key))


async def purge_before(session: AsyncSession, horizon: datetime) -> None:
    """Counters whose window ended before ``horizon`` count nothing any more."""
    await session.execute(delete(SendCounter).where(SendCounter.window_start < horizon))
