"""Growing delays after failed attempts, per login identifier and per client address.

NIST 800-63B-4 §3.2.2: limit consecutive failures per account; a delay that doubles and then
caps (rather than a permanent lock) means a stranger can slow an account down but never lock
its owner out for good.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts.errors import TooManyAttempts
from idp.db.models import ThrottleCounter
from idp.settings import ThrottleSettings


def delay_for(failures: int, free: int, settings: ThrottleSettings) -> float:
    if failures < free:
        return 0.0
    return min(settings.max_delay, settings.base_delay * 2.0 ** (failures - free))


async def check(session: AsyncSession, keys: list[str], now: datetime) -> None:
    rows = (
        await session.scalars(select(ThrottleCounter).where(ThrottleCounter.key.in_(keys)))
    ).all()
    waits = [(r.blocked_until - now).total_seconds() for r in rows if r.blocked_until]
    longest = max(waits, default=0.0)
    if longest > 0:
        raise TooManyAttempts(retry_after=max(1, math.ceil(longest)))


async def fail(
    session: AsyncSession,
    key: str,
    now: datetime,
    settings: ThrottleSettings,
    *,
    free: int,
) -> None:
    current = await session.get(ThrottleCounter, key, with_for_update=True)
    if current is None or current.last_failure_at + timedelta(seconds=settings.window) < now:
        failures = 1
    else:
        failures = current.failures + 1
    delay = delay_for(failures, free, settings)
    blocked = now + timedelta(seconds=delay) if delay else None
    values = {"key": key, "failures": failures, "last_failure_at": now, "blocked_until": blocked}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(ThrottleCounter).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={"failures": failures, "last_failure_at": now, "blocked_until": blocked},
    )
    await session.execute(stmt)


async def reset(session: AsyncSession, key: str) -> None:
    await session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))
