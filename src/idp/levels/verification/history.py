"""Level changes: the account's level moved by a guarded UPDATE and its history entry written in
the same transaction, or neither."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Account, LevelChange


async def change_level(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    expected: str,
    to: str,
    reason: str,
    at: datetime,
    evidence: str | None = None,
    confirmation_method: str | None = None,
) -> bool:
    """Move the account from ``expected`` to ``to``; False (nothing written) when its level is
    no longer ``expected`` (another transaction moved it first) or it is not active."""
    moved = await session.execute(
        update(Account)
        .where(Account.id == account_id, Account.level == expected, Account.status == "active")
        .values(level=to, confirmation_method=confirmation_method, updated_at=at)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(
        LevelChange(
            account_id=account_id,
            from_level=expected,
            to_level=to,
            reason=reason,
            evidence=evidence[:255] if evidence else None,
            at=at,
        )
    )
    return True


async def history(session: AsyncSession, account_id: uuid.UUID) -> list[LevelChange]:
    """The account's level changes, newest first."""
    rows = await session.scalars(
        select(LevelChange)
        .where(LevelChange.account_id == account_id)
        .order_by(LevelChange.at.desc(), LevelChange.id)
    )
    return list(rows)
