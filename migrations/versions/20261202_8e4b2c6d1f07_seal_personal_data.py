"""seal personal data

Names, phones and e-mails move from plain text columns to sealed ones (``*_sealed``, AES-GCM
with the column in the AAD) and contacts and verification targets gain a keyed blind index
(``*_lookup``) that lookups and the unique constraint use. Rows already stored are sealed with
the vault ``idp migrate`` hands over (the server's own key); a database with such rows cannot
be upgraded without it (the plain ``alembic`` command has no key).

Revision ID: 8e4b2c6d1f07
Revises: 3d9e6b1a7c52
Create Date: 2026-12-02 01:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "8e4b2c6d1f07"
down_revision = "3d9e6b1a7c52"
branch_labels = None
depends_on = None

# table -> [(plain column, its length, nullable)]; the sealed column is "<plain>_sealed".
SEALED: dict[str, list[tuple[str, int, bool]]] = {
    "accounts": [("first_name", 100, False), ("last_name", 100, False), ("middle_name", 100, True)],
    "contacts": [("value", 320, False)],
    "registrations": [
        ("first_name", 100, False),
        ("last_name", 100, False),
        ("middle_name", 100, True),
        ("phone", 32, True),
        ("email", 320, True),
    ],
    "verifications": [("target", 320, False)],
}
# table -> (plain column, lookup column); both blind indexes share the "contact" key.
LOOKUPS = {"contacts": ("value", "value_lookup"), "verifications": ("target", "target_lookup")}
INDEX_FIELD = "contact"


def _vault() -> Any:
    vault = context.config.attributes.get("vault")
    if vault is None:
        raise RuntimeError(
            "this revision seals personal data already stored and needs the server's key: "
            "run `idp migrate` with the server's IDP_KEY_ENCRYPTION_KEY"
        )
    return vault


def _has_rows(table: str) -> bool:
    return op.get_bind().execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None  # noqa: S608


def _columns(table: str, names: list[str]) -> sa.TableClause:
    return sa.table(table, sa.column("id"), *(sa.column(name) for name in names))


def upgrade() -> None:
    for table, columns in SEALED.items():
        with op.batch_alter_table(table) as batch:
            for name, _length, _nullable in columns:
                batch.add_column(sa.Column(f"{name}_sealed", sa.LargeBinary(), nullable=True))
            if table in LOOKUPS:
                batch.add_column(sa.Column(LOOKUPS[table][1], sa.String(64), nullable=True))
        if _has_rows(table):
            _seal_rows(table, columns)
        with op.batch_alter_table(table) as batch:
            if table == "contacts":
                batch.drop_index("uq_contacts_confirmed_value")
            for name, _length, nullable in columns:
                batch.drop_column(name)
                batch.alter_column(
                    f"{name}_sealed", existing_type=sa.LargeBinary(), nullable=nullable
                )
            if table in LOOKUPS:
                batch.alter_column(LOOKUPS[table][1], existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("contacts") as batch:
        batch.create_index(
            "uq_contacts_confirmed_value",
            ["kind", "value_lookup"],
            unique=True,
            postgresql_where=sa.text("confirmed_at IS NOT NULL"),
            sqlite_where=sa.text("confirmed_at IS NOT NULL"),
        )


def _seal_rows(table: str, columns: list[tuple[str, int, bool]]) -> None:
    vault = _vault()
    names = [name for name, _length, _nullable in columns]
    lookup = LOOKUPS.get(table)
    target = _columns(
        table, names + [f"{n}_sealed" for n in names] + ([lookup[1]] if lookup else [])
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(target.c.id, *(target.c[n] for n in names))).all():
        values: dict[str, Any] = {}
        for name, plain in zip(names, row[1:], strict=True):
            field = f"{table}.{name}"
            values[f"{name}_sealed"] = None if plain is None else vault.seal_column(field, plain)
        if lookup:
            values[lookup[1]] = vault.blind_index(INDEX_FIELD, row[1 + names.index(lookup[0])])
        connection.execute(sa.update(target).where(target.c.id == row[0]).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_index("uq_contacts_confirmed_value")
    for table, columns in SEALED.items():
        with op.batch_alter_table(table) as batch:
            for name, length, _nullable in columns:
                batch.add_column(sa.Column(name, sa.String(length), nullable=True))
        if _has_rows(table):
            _open_rows(table, columns)
        with op.batch_alter_table(table) as batch:
            for name, length, nullable in columns:
                batch.drop_column(f"{name}_sealed")
                batch.alter_column(name, existing_type=sa.String(length), nullable=nullable)
            if table in LOOKUPS:
                batch.drop_column(LOOKUPS[table][1])
    with op.batch_alter_table("contacts") as batch:
        batch.create_index(
            "uq_contacts_confirmed_value",
            ["kind", "value"],
            unique=True,
            postgresql_where=sa.text("confirmed_at IS NOT NULL"),
            sqlite_where=sa.text("confirmed_at IS NOT NULL"),
        )


def _open_rows(table: str, columns: list[tuple[str, int, bool]]) -> None:
    vault = _vault()
    names = [name for name, _length, _nullable in columns]
    target = _columns(table, names + [f"{n}_sealed" for n in names])
    connection = op.get_bind()
    sealed = [target.c[f"{n}_sealed"] for n in names]
    for row in connection.execute(sa.select(target.c.id, *sealed)).all():
        values = {
            name: None if value is None else vault.open_column(f"{table}.{name}", bytes(value))
            for name, value in zip(names, row[1:], strict=True)
        }
        connection.execute(sa.update(target).where(target.c.id == row[0]).values(**values))
