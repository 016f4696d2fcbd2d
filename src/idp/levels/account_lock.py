"""The account row locked for a level change: the one statement the services that move a
level (personal data saves, QES confirmations) take before they read what they decide on."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Account


async def lock_active_account(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    """The active account, its row locked until the transaction ends (``FOR UPDATE`` on
    PostgreSQL; on SQLite the writer's ``BEGIN IMMEDIATE`` serialises already); None when it
    is not active. Re-read, never served from the session's identity map."""
    return (
        await session.scalars(
            select(Account)
            .where(Account.id == account_id, Account.status == "active")
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
