"""password resets

Revision ID: d8c3b9cca2e0
Revises: d1fc78c6cad8
Create Date: 2026-11-23 23:16:51.281279
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types


revision = "d8c3b9cca2e0"
down_revision = "d1fc78c6cad8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_password_resets_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_password_resets_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_password_resets_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_resets_expires_at"))
        batch_op.drop_index(batch_op.f("ix_password_resets_account_id"))

    op.drop_table("password_resets")
