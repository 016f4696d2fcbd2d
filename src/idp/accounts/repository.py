from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Account, BrowserSession, Contact


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, account_id: uuid.UUID) -> Account | None:
        return await self._session.get(Account, account_id)

    async def by_confirmed_contact(self, kind: str, value: str) -> Account | None:
        stmt = (
            select(Account)
            .join(Contact, Contact.account_id == Account.id)
            .where(
                Contact.kind == kind,
                Contact.value_lookup == value,
                Contact.confirmed_at.is_not(None),
            )
        )
        return (await self._session.scalars(stmt)).first()

    async def by_snils_index(self, index: str) -> Account | None:
        return (
            await self._session.scalars(select(Account).where(Account.snils_bidx == index))
        ).first()

    async def contacts(self, account_id: uuid.UUID) -> list[Contact]:
        stmt = select(Contact).where(Contact.account_id == account_id)
        return list((await self._session.scalars(stmt)).all())

    async def confirmed_contact_exists(self, kind: str, value: str) -> bool:
        stmt = select(Contact.id).where(
            Contact.kind == kind, Contact.value_lookup == value, Contact.confirmed_at.is_not(None)
        )
        return (await self._session.scalars(stmt)).first() is not None

    async def confirm_contact(self, contact_id: uuid.UUID, now: datetime) -> bool:
        """Confirm one contact; False when it was confirmed already (another proof won). The
        unique index on confirmed contacts raises IntegrityError if another account has it."""
        result = await self._session.execute(
            update(Contact)
            .where(Contact.id == contact_id, Contact.confirmed_at.is_(None))
            .values(confirmed_at=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def add(self, *rows: Account | Contact) -> None:
        self._session.add_all(rows)

    async def lock(self, account_id: uuid.UUID) -> Account | None:
        """The account, locked until the transaction ends (serialises changes to one account)."""
        return await self._session.get(Account, account_id, with_for_update=True)

    async def by_sub(self, sub: str) -> Account | None:
        return (await self._session.scalars(select(Account).where(Account.sub == sub))).first()

    async def move_status(
        self,
        account_id: uuid.UUID,
        *,
        from_: Sequence[str],
        to: str,
        now: datetime,
        delete_after: datetime | None = None,
    ) -> bool:
        """Move the account to ``to`` only if it is in one of ``from_`` (one statement: of
        racing operators exactly one wins). False when it was not."""
        result = await self._session.execute(
            update(Account)
            .where(Account.id == account_id, Account.status.in_(from_))
            .values(status=to, delete_after=delete_after, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def open_sessions(self, account_id: uuid.UUID) -> list[BrowserSession]:
        """Every session not ended yet, idle or not (ending them revokes their grants now)."""
        stmt = select(BrowserSession).where(
            BrowserSession.account_id == account_id, BrowserSession.ended_at.is_(None)
        )
        return list((await self._session.scalars(stmt)).all())
