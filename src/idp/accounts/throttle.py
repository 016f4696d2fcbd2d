"""Growing delays after failed attempts, with every attempt reserved before it is checked.

NIST 800-63B-4 §3.2.2: limit consecutive failures; a delay that doubles and then caps (rather
than a permanent lock) means a stranger can slow an account down but never lock it for good.

An attempt is counted **before** the expensive check (argon2) and settled after it, so parallel
guesses cannot all pass a check made before any of them failed:

- ``reserve`` counts the attempt as a failure on every counter at once, under the counters'
  row locks, or refuses (``TooManyAttempts``) when one of them is blocked. The attempt that
  reaches the free allowance sets the block itself, so concurrent attempts after it are refused.
- ``settle`` after the check: a failure stays counted; a success resets the counters that a
  success clears and gives back the attempt on the others.
- ``release`` gives back the attempt when the check never ran (server busy, cancelled).
- ``reset`` forgets counters (a successful login, a password reset).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts.errors import TooManyAttempts
from idp.db.models import ThrottleCounter
from idp.settings import ThrottleSettings


@dataclass(frozen=True, slots=True)
class Counter:
    """One counter an attempt is charged to: its key, its free failures, and whether a
    success clears it (a per-address counter is only given back: a success from one address
    must not wipe the failures of the other logins tried from it)."""

    key: str
    free: int
    cleared_by_success: bool = True
    # A blocked counter that does not refuse withholds success instead: the attempt runs and
    # fails like a wrong password. For the per-account counter, a fast 429 would tell which
    # identifiers belong to one account (the first try of its e-mail refused, of any other
    # e-mail not).
    refuses: bool = True


@dataclass(frozen=True, slots=True)
class _Before:
    key: str
    failures: int
    last_failure_at: datetime | None
    blocked_until: datetime | None


@dataclass(slots=True)
class Reservation:
    counters: list[Counter]
    at: datetime
    before: list[_Before] = field(default_factory=list)
    withheld: bool = False  # a blocked non-refusing counter: this attempt cannot succeed


def delay_for(failures: int, free: int, settings: ThrottleSettings) -> float:
    if failures < free:
        return 0.0
    return min(settings.max_delay, settings.base_delay * 2.0 ** (failures - free))


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def _locked_rows(
    session: AsyncSession, keys: list[str], now: datetime
) -> dict[str, ThrottleCounter]:
    # Make every row exist and lock it, in key order (no deadlock between two attempts that
    # share counters). An upsert that updates locks the row it finds; "do nothing" would not,
    # and a success settling meanwhile could delete the row before our SELECT … FOR UPDATE.
    # On SQLite the transaction already holds the writer lock.
    insert = _insert(session)
    for key in sorted(set(keys)):
        await session.execute(
            insert(ThrottleCounter)
            .values(key=key, failures=0, last_failure_at=now, blocked_until=None)
            .on_conflict_do_update(
                index_elements=["key"], set_={"failures": ThrottleCounter.failures}
            )
        )
    stmt = (
        select(ThrottleCounter)
        .where(ThrottleCounter.key.in_(keys))
        .order_by(ThrottleCounter.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.key: row for row in (await session.scalars(stmt)).all()}


async def reserve(
    session: AsyncSession, counters: list[Counter], now: datetime, settings: ThrottleSettings
) -> Reservation:
    """Count one attempt on every counter, or refuse with ``TooManyAttempts`` and count none
    (raise inside the caller's transaction, which then rolls back)."""
    rows = await _locked_rows(session, [c.key for c in counters], now)
    window = timedelta(seconds=settings.window)
    blocked = {
        key: (row.blocked_until - now).total_seconds()
        for key, row in rows.items()
        if row.blocked_until is not None and row.blocked_until > now
    }
    waits = [blocked[c.key] for c in counters if c.refuses and c.key in blocked]
    if waits:
        raise TooManyAttempts(retry_after=max(1, math.ceil(max(waits))))
    reservation = Reservation(counters, now)
    reservation.withheld = any(c.key in blocked for c in counters if not c.refuses)
    for counter in counters:
        row = rows[counter.key]
        reservation.before.append(
            _Before(row.key, row.failures, row.last_failure_at, row.blocked_until)
        )
        stale = row.failures == 0 or row.last_failure_at + window < now
        row.failures = 1 if stale else row.failures + 1
        row.last_failure_at = now
        delay = delay_for(row.failures, counter.free, settings)
        row.blocked_until = now + timedelta(seconds=delay) if delay else None
    await session.flush()
    return reservation


async def settle(
    session: AsyncSession,
    reservation: Reservation,
    *,
    succeeded: bool,
    clear: Collection[str] | None = None,
) -> None:
    """After the check: a failure stays counted; a success clears the counters it clears
    (``clear``, by default those marked ``cleared_by_success``) and gives back the attempt on
    the others."""
    if not succeeded:
        return
    if clear is None:
        clear = {c.key for c in reservation.counters if c.cleared_by_success}
    await _lock_in_order(session, [*clear, *(c.key for c in reservation.counters)])
    await reset(session, list(clear))
    kept = {c.key for c in reservation.counters if c.key not in clear}
    await _give_back(session, [b for b in reservation.before if b.key in kept], reservation.at)


async def release(session: AsyncSession, reservation: Reservation) -> None:
    """The check never ran: give the attempt back on every counter."""
    await _lock_in_order(session, [c.key for c in reservation.counters])
    await _give_back(session, reservation.before, reservation.at)


async def _lock_in_order(session: AsyncSession, keys: list[str]) -> None:
    # Every writer takes counter rows in key order, as ``reserve`` does: a DELETE or UPDATE
    # of several keys at once locks them in whatever order it scans, which deadlocks against
    # a reservation holding one of them and waiting for the other.
    # One key at a time, in Python's order: ``ORDER BY key`` would follow the database's
    # collation, which need not sort as Python (and so as ``reserve``) does.
    for key in sorted(set(keys)):
        await session.execute(
            select(ThrottleCounter.key).where(ThrottleCounter.key == key).with_for_update()
        )


async def _give_back(session: AsyncSession, before: list[_Before], at: datetime) -> None:
    for prior in before:
        # Nobody counted since: put the row back exactly as it was.
        restored = await session.execute(
            update(ThrottleCounter)
            .where(
                ThrottleCounter.key == prior.key,
                ThrottleCounter.failures == prior.failures + 1,
                ThrottleCounter.last_failure_at == at,
            )
            .values(
                failures=prior.failures,
                last_failure_at=prior.last_failure_at or at,
                blocked_until=prior.blocked_until,
            )
        )
        if restored.rowcount == 0:  # type: ignore[attr-defined]
            # Others counted meanwhile: take ours off and keep their block.
            await session.execute(
                update(ThrottleCounter)
                .where(ThrottleCounter.key == prior.key, ThrottleCounter.failures > 0)
                .values(failures=ThrottleCounter.failures - 1)
            )


async def reset(session: AsyncSession, keys: list[str]) -> None:
    if keys:
        await _lock_in_order(session, keys)
        await session.execute(delete(ThrottleCounter).where(ThrottleCounter.key.in_(keys)))
