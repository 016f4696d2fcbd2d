"""Deleting grants, refresh tokens and browser sessions once they can matter to nobody, in
bounded batches (``DELETE … WHERE key IN (SELECT key … LIMIT n)``), each batch its own short
transaction, so a large backlog never holds SQLite's writer lock or PostgreSQL's row locks for
long. Each statement is idempotent: every instance may run it at once.

When a row is dead, and how long it is kept (``retention``, ``IDP_HOUSEKEEPING__RETENTION``):
- a refresh-token chain: past its absolute end (every link of a chain shares it) plus the
  retention. Until then a rotated link presented again is reuse and revokes the grant; after
  it the token is unknown, which is refused as well (``invalid_grant``): purging never makes
  an old token valid, only the answer changes from "reused" to "unknown";
- a grant: revoked more than the retention ago (its refresh tokens go with it), or old enough
  that no access token of it can live (created more than the retention plus the access-token
  lifetime ago) and without any refresh token left. Access tokens of a grant that is gone are
  refused, as those of a revoked one;
- a browser session: ended more than the retention ago. Sessions that ran out but were not
  ended yet are left to the expiry sweep, which ends them with the logout fan-out;
- an account marked for deletion (``idp accounts delete``, status ``deleting``) once its
  ``delete_after`` has passed: deleted with everything that hangs on it (contacts, sessions,
  grants, consents: ``ON DELETE CASCADE``), one ``account.purged`` audit record each. The
  guard repeats the status, so an account enabled again meanwhile stays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.db.engine import Database
from idp.db.models import Account, BrowserSession, Grant, RefreshToken, SendCounter
from idp.settings import Settings

# A pass stops after this many full batches and goes on at the next one (bounded work).
MAX_BATCHES = 100


async def _delete_batch(session: AsyncSession, key: Any, where: Any, limit: int) -> int:
    chosen = select(key).where(where).limit(limit)
    result = await session.execute(delete(key.class_).where(key.in_(chosen)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _in_batches(
    db: Database, batch: Callable[[AsyncSession], Awaitable[int]], limit: int
) -> int:
    total = 0
    for _ in range(MAX_BATCHES):
        async with db.transaction() as session:
            deleted = await batch(session)
        total += deleted
        if deleted < limit:
            break
    return total


async def purge_expired(db: Database, settings: Settings, now: datetime) -> dict[str, int]:
    """One pass over every kind; returns how many rows of each went."""
    keep = timedelta(seconds=settings.housekeeping.retention)
    limit = settings.housekeeping.batch_size
    horizon = now - keep
    old_grant = horizon - timedelta(seconds=settings.tokens.access_token_ttl)
    without_tokens = ~exists().where(RefreshToken.grant_id == Grant.id)
    steps: dict[str, tuple[Any, Any]] = {
        "refresh_tokens": (RefreshToken.token_hash, RefreshToken.absolute_expires_at < horizon),
        "revoked_grants": (Grant.id, Grant.revoked_at < horizon),
        "old_grants": (Grant.id, (Grant.created_at < old_grant) & without_tokens),
        "sessions": (BrowserSession.id, BrowserSession.ended_at < horizon),
        # A send counter's window is an hour (a "day:" counter's a day): one that began twice
        # as long ago counts nothing.
        "send_counters": (
            SendCounter.key,
            (SendCounter.window_start < now - timedelta(days=2))
            | (
                ~SendCounter.key.startswith("day:")
                & (SendCounter.window_start < now - timedelta(hours=2))
            ),
        ),
    }
    purged: dict[str, int] = {}
    for name, (key, where) in steps.items():

        async def batch(session: AsyncSession, key: Any = key, where: Any = where) -> int:
            return await _delete_batch(session, key, where, limit)

        purged[name] = await _in_batches(db, batch, limit)

    async def accounts(session: AsyncSession) -> int:
        return await _purge_deleted_accounts(session, now, limit)

    purged["accounts"] = await _in_batches(db, accounts, limit)
    return purged


async def _purge_deleted_accounts(session: AsyncSession, now: datetime, limit: int) -> int:
    due = (Account.status == "deleting") & (Account.delete_after < now)
    chosen = (await session.scalars(select(Account.id).where(due).limit(limit))).all()
    if not chosen:
        return 0
    gone = (
        await session.scalars(
            delete(Account).where(Account.id.in_(chosen), due).returning(Account.id)
        )
    ).all()
    for account_id in gone:
        record(session, "account.purged", at=now, actor="system", account_id=account_id)
    return len(gone)
