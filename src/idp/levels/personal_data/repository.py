"""The SQL of a person's data: the row per account, the account it belongs to, its checks."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Account, PersonalData, RegistryCheck
from idp.levels.account_lock import lock_active_account


class PersonalDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_account(self, account_id: uuid.UUID) -> Account | None:
        """The active account, its row locked until the transaction ends (``FOR UPDATE`` on
        PostgreSQL; on SQLite the writer's ``BEGIN IMMEDIATE`` serialises already): two saves
        of one account's data run one after the other."""
        return await lock_active_account(self._session, account_id)

    async def account(self, account_id: uuid.UUID) -> Account | None:
        return await self._session.get(Account, account_id)

    async def get(self, account_id: uuid.UUID) -> PersonalData | None:
        return await self._session.get(PersonalData, account_id)

    def add(self, row: PersonalData) -> None:
        self._session.add(row)

    async def snils_verified_elsewhere(self, account_id: uuid.UUID, snils_index: str) -> bool:
        """Whether another account logs in with this SNILS (its verified one)."""
        found = await self._session.scalars(
            select(Account.id).where(Account.snils_bidx == snils_index, Account.id != account_id)
        )
        return found.first() is not None

    async def forget_verified_snils(self, account_id: uuid.UUID, *, at: datetime) -> None:
        await self._session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(snils_enc=None, snils_bidx=None, updated_at=at)
        )

    async def checks_of(self, account_id: uuid.UUID, revision: int) -> list[RegistryCheck]:
        rows = await self._session.scalars(
            select(RegistryCheck)
            .where(RegistryCheck.account_id == account_id, RegistryCheck.revision == revision)
            .order_by(RegistryCheck.created_at, RegistryCheck.kind)
        )
        return list(rows)
