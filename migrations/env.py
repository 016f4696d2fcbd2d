"""Alembic environment. ``idp migrate`` hands us an open connection; the ``alembic`` command
line gets its URL from ``IDP_DATABASE_URL``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from idp.db.base import Base
from idp.db.engine import make_engine
from idp.db.models import Account  # noqa: F401  (registers every table)
from idp.settings import Settings

target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url() -> None:
    engine = make_engine(Settings().database_url, sqlite_foreign_keys=False)  # see idp.db.migrate
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _configure(connection)
else:
    asyncio.run(_run_from_url())
