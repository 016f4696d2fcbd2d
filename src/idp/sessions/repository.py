from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Account, BrowserSession, SessionClient


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_live(
        self, token_hash: str, now: datetime
    ) -> tuple[BrowserSession, Account] | None:
        stmt = (
            select(BrowserSession, Account)
            .join(Account, Account.id == BrowserSession.account_id)
            .where(
                BrowserSession.token_hash == token_hash,
                BrowserSession.ended_at.is_(None),
                BrowserSession.expires_at > now,
            )
        )
        row = (await self._session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    def add(self, record: BrowserSession) -> None:
        self._session.add(record)

    async def touch(self, session_id: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            update(BrowserSession).where(BrowserSession.id == session_id).values(last_seen_at=now)
        )

    async def add_participant(self, session_id: uuid.UUID, client_id: str, now: datetime) -> None:
        values = {"session_id": session_id, "client_id": client_id, "first_at": now}
        dialect = self._session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(SessionClient).values(**values).on_conflict_do_nothing()
        await self._session.execute(stmt)
