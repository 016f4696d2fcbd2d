"""operator commands: account deletion after a grace period, client cache generations

``accounts.delete_after``: when an account marked for deletion (status ``deleting``) is purged
by housekeeping. ``cache_generations``: one counter per shared cache, raised in the
transaction of every change to what the cache holds (``clients``: update, delete, secret
rotation), so every instance drops its cached copies within its recheck interval.

Revision ID: b7d3e1f09a64
Revises: a41c7e9d2b10
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types


revision = "b7d3e1f09a64"
down_revision = "a41c7e9d2b10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("delete_after", idp.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index(batch.f("ix_accounts_delete_after"), ["delete_after"], unique=False)
    generations = op.create_table(
        "cache_generations",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_generations")),
    )
    op.bulk_insert(generations, [{"name": "clients", "generation": 0}])


def downgrade() -> None:
    op.drop_table("cache_generations")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index(batch.f("ix_accounts_delete_after"))
        batch.drop_column("delete_after")
