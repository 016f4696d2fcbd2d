"""Engine and the unit of work: one transaction per request or job, committed in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from idp.db.sealed import ColumnVault, attach_vault


def make_engine(
    url: str,
    pool_size: int = 10,
    *,
    sqlite_begin: str = "IMMEDIATE",
    sqlite_foreign_keys: bool = True,
) -> AsyncEngine:
    # Bound parameters carry personal data (names, contacts, sealed values): an error message
    # or a log line must never show them.
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _tune_sqlite(engine, sqlite_begin, sqlite_foreign_keys)
        return engine
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # survive a database restart without serving errors forever
        pool_recycle=1800,
    )


def _tune_sqlite(engine: AsyncEngine, begin: str, foreign_keys: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the lock at BEGIN: a read-then-write transaction can then never fail
        # half-way with "database is locked" because another writer got there first.
        connection.exec_driver_sql(f"BEGIN {begin}")


class Database:
    """Owns the engines; hands out sessions whose work is committed once, or not at all.

    Never open a second transaction while one is open in the same task: on SQLite the writer
    lock is exclusive, and on PostgreSQL it would take two pool connections per request.
    """

    def __init__(self, url: str, pool_size: int = 10, *, vault: ColumnVault | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.dialect = self.engine.dialect.name
        # SQLite readers use deferred transactions on their own pool, so reads never queue
        # behind the single writer (WAL gives them a snapshot).
        self._read_engine = (
            make_engine(url, pool_size, sqlite_begin="DEFERRED")
            if self.dialect == "sqlite"
            else self.engine
        )
        if vault is not None:
            attach_vault(self.engine, vault)
            attach_vault(self._read_engine, vault)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._read_sessions = async_sessionmaker(
            self._read_engine, expire_on_commit=False, autoflush=False
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads (nothing it adds is committed)."""
        async with self._read_sessions() as session:
            try:
                yield session
            finally:
                # Detach first: a rollback would expire what was read, and readers keep it.
                session.expunge_all()
                await session.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()
