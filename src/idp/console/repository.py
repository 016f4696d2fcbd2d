from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import AuditEvent, BrowserSession, Client, SessionClient


class ConsoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def sign_ins(self, account_id: uuid.UUID, limit: int) -> list[AuditEvent]:
        """The account's successful logins, newest first."""
        stmt = (
            select(AuditEvent)
            .where(
                AuditEvent.account_id == str(account_id),
                AuditEvent.event == "login",
                AuditEvent.outcome == "success",
            )
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
        return list((await self._session.scalars(stmt)).all())

    async def clients_of(self, session_ids: list[uuid.UUID]) -> Sequence[Any]:
        """(session id, client id, client name) for each site that took part in the sessions."""
        if not session_ids:
            return []
        stmt = (
            select(SessionClient.session_id, Client.client_id, Client.name)
            .join(Client, Client.client_id == SessionClient.client_id)
            .where(SessionClient.session_id.in_(session_ids))
            .order_by(SessionClient.first_at)
        )
        return (await self._session.execute(stmt)).all()

    async def own_open_session(
        self, account_id: uuid.UUID, session_id: uuid.UUID
    ) -> BrowserSession | None:
        """The account's session if it has not ended (None for another account's)."""
        stmt = select(BrowserSession).where(
            BrowserSession.id == session_id,
            BrowserSession.account_id == account_id,
            BrowserSession.ended_at.is_(None),
        )
        return (await self._session.scalars(stmt)).first()
