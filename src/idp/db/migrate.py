"""Running Alembic migrations from code (``idp migrate``, tests, first start)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from idp.db.engine import make_engine


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


async def _run(url: str, action: str, target: str) -> None:
    engine = make_engine(url, sqlite_begin="")

    def apply(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, action)(config, target)

    async with engine.begin() as connection:
        await connection.run_sync(apply)
    await engine.dispose()


async def upgrade(url: str, target: str = "head") -> None:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    await _run(url, "upgrade", target)


async def downgrade(url: str, target: str = "base") -> None:
    await _run(url, "downgrade", target)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
