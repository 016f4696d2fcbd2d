from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import CacheGeneration, Client

# The counter every instance's client cache watches (``idp.clients.cache``).
GENERATION = "clients"


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
        upsert = (
            pg_insert if self._session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        inserted = await self._session.execute(
            upsert(Client)
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

    async def listing(self) -> list[Client]:
        stmt = select(Client).order_by(Client.created_at, Client.client_id)
        return list((await self._session.scalars(stmt)).all())

    async def named(self, name: str) -> list[str]:
        stmt = select(Client.client_id).where(Client.name == name).order_by(Client.client_id)
        return list((await self._session.scalars(stmt)).all())

    async def change(self, client_id: str, values: dict[str, Any]) -> bool:
        result = await self._session.execute(
            update(Client)
            .where(Client.client_id == client_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def replace_secret(self, client_id: str, secret_hash: str) -> bool:
        """Only a client that has a secret gets a new one (never a public or key-based one)."""
        result = await self._session.execute(
            update(Client)
            .where(Client.client_id == client_id, Client.secret_hash.is_not(None))
            .values(secret_hash=secret_hash)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def remove(self, client_id: str) -> bool:
        """Delete the client; its grants, consents, codes and session memberships go with it
        (``ON DELETE CASCADE``)."""
        result = await self._session.execute(delete(Client).where(Client.client_id == client_id))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def bump_generation(self) -> None:
        """Raise the clients' cache generation. Taken first in a registry change, the row
        lock also serialises such changes on PostgreSQL (SQLite's writer lock already does)."""
        result = await self._session.execute(
            update(CacheGeneration)
            .where(CacheGeneration.name == GENERATION)
            .values(generation=CacheGeneration.generation + 1)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            await self._session.execute(
                insert(CacheGeneration).values(name=GENERATION, generation=1)
            )

    async def generation(self) -> int:
        stmt = select(CacheGeneration.generation).where(CacheGeneration.name == GENERATION)
        return int((await self._session.scalars(stmt)).first() or 0)
