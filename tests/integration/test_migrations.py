"""Alembic migrations on a fresh database of each dialect: up, down to nothing, up again, and
no drift between the migrated schema and the models."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import idp.db.models  # noqa: F401  (registers every table)
from idp.accounts.repository import AccountRepository
from idp.app import create_app
from idp.db.base import Base
from idp.db.engine import Database
from idp.db.migrate import alembic_config, downgrade, head_revision, upgrade
from idp.db.models import Account, Verification
from idp.db.types import UTCDateTime
from idp.security.pii import PersonalDataVault
from idp.security.sealing import Keyring
from idp.settings import Settings
from tests.support.live import LiveServer, free_port


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def _scratch_pg_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards."""
    server = os.environ.get("IDP_TEST_POSTGRES_URL")
    if not server:
        pytest.fail("IDP_TEST_POSTGRES_URL is not set: run the suite with `make test`")
    name = f"idp_migrations_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_pg_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(_pg_dsn(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def fresh_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    async with _scratch_pg_database() as url:
        yield url


def _objects(connection: Connection) -> set[str]:
    """Every table, index, view, sequence and type in the database, by name."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text("SELECT type || ':' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        )
    else:
        rows = connection.execute(
            text(
                "SELECT c.relkind::text || ':' || c.relname::text FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                "UNION ALL SELECT 'type:' || t.typname::text FROM pg_type t "
                "JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') "
                "AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)"
            )
        )
    return {str(row[0]) for row in rows}


def _state(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        "tables": set(inspector.get_table_names()),
        "objects": _objects(connection),
        "revision": MigrationContext.configure(connection).get_current_revision(),
    }


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def _run(url: str, fn: Any) -> Any:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_leaves_no_drift(fresh_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    model_tables = set(Base.metadata.tables)

    await upgrade(fresh_url)
    first = await _run(fresh_url, _state)
    assert first["revision"] == head
    assert first["tables"] == model_tables | {"alembic_version"}
    assert await _run(fresh_url, _drift) == []
    named = {o.split(":", 1)[1] for o in first["objects"]}
    assert model_tables <= named
    assert "ix_grants_account_id" in named  # indexes are seen too, so "nothing left" means it

    await downgrade(fresh_url, "base")
    empty = await _run(fresh_url, _state)
    assert empty["revision"] is None
    assert empty["tables"] <= {"alembic_version"}
    # Nothing of ours survives: no table, index, sequence or type besides Alembic's own.
    leftovers = {o for o in empty["objects"] if "alembic_version" not in o}
    assert leftovers == set()

    await upgrade(fresh_url)
    second = await _run(fresh_url, _state)
    assert second == first
    assert await _run(fresh_url, _drift) == []


async def test_every_revision_steps_down_and_up_one_at_a_time(fresh_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for revision in revisions:
        await upgrade(fresh_url, revision)
        assert (await _run(fresh_url, _state))["revision"] == revision
    for revision in reversed(revisions):
        previous = script.get_revision(revision).down_revision
        await downgrade(fresh_url, previous or "base")
        assert (await _run(fresh_url, _state))["revision"] == previous


async def test_the_single_head_is_the_newest_revision() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1  # parallel branches must be merged before release


async def test_addresses_written_before_are_reduced_to_networks(fresh_url: str) -> None:
    await upgrade(fresh_url, "5b7e2a91c4d3")

    def write(connection: Connection) -> None:
        for ip in ("203.0.113.77", "2001:db8:abcd:12::9", "garbage"):
            connection.execute(
                text(
                    "INSERT INTO audit_events (at, event, outcome, ip, details) "
                    "VALUES (CURRENT_TIMESTAMP, 'login', 'failure', :ip, '{}')"
                ),
                {"ip": ip},
            )
        connection.commit()

    await _run(fresh_url, write)
    await upgrade(fresh_url, "3d9e6b1a7c52")

    def read(connection: Connection) -> set[str | None]:
        return {row[0] for row in connection.execute(text("SELECT ip FROM audit_events"))}

    assert await _run(fresh_url, read) == {"203.0.113.0", "2001:db8:abcd::", None}


def _plain_rows(account_id: uuid.UUID) -> list[tuple[sa.TableClause, dict[str, Any]]]:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    at = UTCDateTime()

    def table(name: str, *columns: sa.ColumnClause[Any]) -> sa.TableClause:
        return sa.table(name, *columns)

    return [
        (
            table(
                "accounts",
                sa.column("id", sa.Uuid),
                sa.column("sub"),
                sa.column("first_name"),
                sa.column("last_name"),
                sa.column("level"),
                sa.column("status"),
                sa.column("created_at", at),
                sa.column("updated_at", at),
            ),
            {
                "id": account_id,
                "sub": account_id.hex,
                "first_name": "Olga",
                "last_name": "Petrova",
                "level": "simplified",
                "status": "active",
                "created_at": now,
                "updated_at": now,
            },
        ),
        (
            table(
                "contacts",
                sa.column("id", sa.Uuid),
                sa.column("account_id", sa.Uuid),
                sa.column("kind"),
                sa.column("value"),
                sa.column("confirmed_at", at),
                sa.column("created_at", at),
            ),
            {
                "id": uuid.uuid4(),
                "account_id": account_id,
                "kind": "phone",
                "value": "+79990001122",
                "confirmed_at": now,
                "created_at": now,
            },
        ),
        (
            table(
                "verifications",
                sa.column("id", sa.Uuid),
                sa.column("purpose"),
                sa.column("owner_id", sa.Uuid),
                sa.column("channel"),
                sa.column("target"),
                sa.column("secret_hash"),
                sa.column("decoy"),
                sa.column("failures"),
                sa.column("sends"),
                sa.column("last_sent_at", at),
                sa.column("expires_at", at),
                sa.column("created_at", at),
            ),
            {
                "id": uuid.uuid4(),
                "purpose": "contact",
                "owner_id": account_id,
                "channel": "email",
                "target": "olga@example.org",
                "secret_hash": "0" * 64,
                "decoy": False,
                "failures": 0,
                "sends": 1,
                "last_sent_at": now,
                "expires_at": now,
                "created_at": now,
            },
        ),
    ]


async def test_personal_data_stored_before_is_sealed_and_opens_again(
    fresh_url: str, tmp_path: Path
) -> None:
    vault = PersonalDataVault(Keyring(b"k" * 32))
    await upgrade(fresh_url, "3d9e6b1a7c52")
    account_id = uuid.uuid4()

    def write(connection: Connection) -> None:
        for table, row in _plain_rows(account_id):
            connection.execute(sa.insert(table).values(**row))
        connection.commit()

    await _run(fresh_url, write)
    with pytest.raises(RuntimeError, match="needs the server's key"):
        await upgrade(fresh_url)  # rows to seal and no key: refused, nothing half-done
    await upgrade(fresh_url, vault=vault)

    database = Database(fresh_url, vault=vault)
    try:
        async with database.read() as session:
            account = await session.get(Account, account_id)
            assert account is not None
            assert (account.first_name, account.last_name) == ("Olga", "Petrova")
            found = await AccountRepository(session).by_confirmed_contact("phone", "+79990001122")
            assert found is not None
            assert found.id == account_id
            target = await session.scalar(
                select(Verification.target).where(Verification.target_lookup == "olga@example.org")
            )
            assert target == "olga@example.org"
    finally:
        await database.dispose()

    def raw_dump(connection: Connection) -> bytes:
        dump = b""
        for name in ("accounts", "contacts", "verifications"):
            for row in connection.execute(text(f"SELECT * FROM {name}")):  # noqa: S608
                dump += repr(tuple(row)).encode()
        return dump

    dump = await _run(fresh_url, raw_dump)
    for plain in (b"Olga", b"Petrova", b"79990001122", b"olga@example.org"):
        assert plain not in dump

    await downgrade(fresh_url, "3d9e6b1a7c52", vault=vault)

    def plain_values(connection: Connection) -> set[str]:
        rows = connection.execute(
            text(
                "SELECT a.first_name, c.value, v.target FROM accounts a "
                "JOIN contacts c ON c.account_id = a.id JOIN verifications v ON v.owner_id = a.id"
            )
        )
        return {str(value) for row in rows for value in row}

    assert await _run(fresh_url, plain_values) == {"Olga", "+79990001122", "olga@example.org"}


async def test_an_instance_is_not_ready_until_the_schema_is_its_own(
    fresh_url: str, settings: Settings, tmp_path: Path
) -> None:
    await upgrade(fresh_url, "3d9e6b1a7c52")  # as an older release left it
    port = free_port()
    app = create_app(
        settings.model_copy(
            update={
                "database_url": fresh_url,
                "var_dir": tmp_path,
                "issuer": f"http://127.0.0.1:{port}",
            }
        ),
        run_jobs=False,
    )
    live = LiveServer(app, port).start()
    try:
        async with httpx.AsyncClient(base_url=live.url) as http:
            behind = await http.get("/readyz")
            assert behind.status_code == 503
            assert behind.json()["status"] == "schema-mismatch"
            await upgrade(fresh_url, vault=PersonalDataVault(Keyring(b"k" * 32)))
            assert (await http.get("/readyz")).status_code == 200
    finally:
        live.stop()


async def test_two_instances_migrating_at_once_both_succeed() -> None:
    async with _scratch_pg_database() as url:
        await asyncio.gather(upgrade(url), upgrade(url))  # PostgreSQL: the advisory lock
        assert await _run(url, lambda c: _state(c)["revision"]) == head_revision()
