from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Client, Consent, Grant


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_account(self, account_id: uuid.UUID) -> list[tuple[Consent, str]]:
        """The account's consents with each client's name, newest first."""
        stmt = (
            select(Consent, Client.name)
            .join(Client, Client.client_id == Consent.client_id)
            .where(Consent.account_id == account_id)
            .order_by(Consent.granted_at.desc(), Consent.client_id)
        )
        return [(row[0], row[1]) for row in (await self._session.execute(stmt)).all()]

    async def delete(self, account_id: uuid.UUID, client_id: str) -> bool:
        """Delete the consent; False when there was none (or another withdrawal won)."""
        deleted = await self._session.execute(
            delete(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id)
        )
        return bool(deleted.rowcount == 1)  # type: ignore[attr-defined]

    async def revoke_grants(
        self, account_id: uuid.UUID, client_id: str, now: datetime, reason: str
    ) -> int:
        """Revoke every live grant of the client for the account (its refresh tokens die)."""
        revoked = await self._session.execute(
            update(Grant)
            .where(
                Grant.account_id == account_id,
                Grant.client_id == client_id,
                Grant.revoked_at.is_(None),
            )
            .values(revoked_at=now, revoked_reason=reason)
        )
        return int(revoked.rowcount)  # type: ignore[attr-defined]
