"""Running Alembic migrations from code (``idp migrate``, tests, first start)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

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
