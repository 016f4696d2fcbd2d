"""Running Alembic migrations from code (``idp migrate``, tests, first start)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.engine import make_engine
from idp.db.sealed import ColumnVault


def migrations_dir() -> Path:
    configured = os.environ.get("IDP_MIGRATIONS_DIR")
    candidates = [Path(configured)] if configured else []
    candidates += [Path(__file__).resolve().parents[3] / "migrations", Path.cwd() / "migrations"]
    for candidate in candidates:
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("the migrations folder was not found; set IDP_MIGRATIONS_DIR")


_MIGRATION_LOCK = 0x1D95C4E  # any constant: the advisory lock key of schema changes


@functools.cache
def head_revision() -> str | None:
    """The schema revision this code expects (the single head of ``migrations/``)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(session: AsyncSession) -> str | None:
    """The schema revision the database is at (None before the first migration)."""
    try:
        async with session.begin_nested():
            value = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        return None
    return str(value) if value is not None else None


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


async def _run(url: str, action: str, target: str, vault: ColumnVault | None) -> None:
    # SQLite alters a table by copying it and dropping the original; with foreign keys on, that
    # drop would cascade into every child row (SQLite's own ALTER procedure turns them off and
    # checks them afterwards, as we do).
    engine = make_engine(url, sqlite_begin="", sqlite_foreign_keys=False)

    def apply(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        # Revisions that seal personal data already stored need the vault (see 8e4b2c6d1f07).
        config.attributes["vault"] = vault
        getattr(command, action)(config, target)

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two instances starting at once both run `idp migrate`: the second waits here
            # until the first commits, then finds the schema at head and does nothing.
            await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        await connection.run_sync(apply)
        if connection.dialect.name == "sqlite":
            broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
            if broken:
                raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")
    await engine.dispose()


async def upgrade(url: str, target: str = "head", *, vault: ColumnVault | None = None) -> None:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    await _run(url, "upgrade", target, vault)


async def downgrade(url: str, target: str = "base", *, vault: ColumnVault | None = None) -> None:
    await _run(url, "downgrade", target, vault)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
