"""interaction outcome

An interaction is finished once: ``finished_at`` is set by the one submit that wins, and the
answer it gave (the redirect to the client, sealed because it may carry a code) is kept so a
second submit of the same form gets the same answer. ``code_hash`` names the code that
answer carries, so it is repeated only while that code is unused.

Revision ID: a41c7e9d2b10
Revises: a41c7d2e9b05
Create Date: 2026-12-02 00:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types


revision = "a41c7e9d2b10"
down_revision = "a41c7d2e9b05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(
            sa.Column("finished_at", idp.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("outcome", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("code_hash")
        batch.drop_column("outcome")
        batch.drop_column("finished_at")
