from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Client


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, client_id: str) -> Client | None:
        return await self._session.get(Client, client_id)

    def add(self, client: Client) -> None:
        self._session.add(client)
