from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Client


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, client_id: str) -> Client | None:
        return await self._session.get(Client, client_id)

    def add(self, client: Client) -> None:
        self._session.add(client)

    async def put(self, values: dict[str, Any], *, keep: tuple[str, ...] = ()) -> bool:
        """Register a client under a fixed id whether or not it exists, atomically on every
        database: insert it if absent (the primary key decides between concurrent callers),
        else update it in place, leaving the ``keep`` columns as they were. True when this
        call inserted it."""
        insert = (
            pg_insert if self._session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        inserted = await self._session.execute(
            insert(Client)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["client_id"])
            .returning(Client.client_id)
        )
        if inserted.scalar_one_or_none() is not None:
            return True
        changes = {k: v for k, v in values.items() if k != "client_id" and k not in keep}
        await self._session.execute(
            update(Client)
            .where(Client.client_id == values["client_id"])
            .values(**changes)
            .execution_options(synchronize_session=False)
        )
        return False
