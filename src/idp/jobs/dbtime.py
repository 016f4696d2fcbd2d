"""The database's clock, as SQL. Every time the queue compares or writes (due, lease, deadline)
comes from here, so instances whose clocks disagree still agree on what is due."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Interval, func, literal, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.types import UTCDateTime


def now_sql(dialect: str, offset: float = 0.0) -> ColumnElement[datetime]:
    """The database's current time plus ``offset`` seconds, in the form the dialect stores."""
    if dialect == "sqlite":
        # SQLite keeps timestamps as text 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format);
        # strftime gives milliseconds, the zeros make the six digits text comparison needs.
        text = func.strftime("%Y-%m-%d %H:%M:%f", "now", f"{offset:+.3f} seconds").concat("000")
        return type_coerce(text, UTCDateTime)
    # statement_timestamp(), not now(): now() is when the transaction began, and a lease or a
    # deadline written after waiting on a lock would start in the past.
    clock = func.statement_timestamp()
    stamp = clock if not offset else clock + literal(timedelta(seconds=offset), Interval)
    return type_coerce(stamp, UTCDateTime)


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def db_now(session: AsyncSession) -> datetime:
    value: datetime | None = await session.scalar(select(now_sql(dialect_of(session))))
    assert value is not None
    return value
