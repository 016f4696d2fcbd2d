"""notification outbox

Revision ID: e7bf4e5485e4
Revises: 0913dc9b12a2
Create Date: 2026-11-23 23:08:58.136896
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types


revision = "e7bf4e5485e4"
down_revision = "0913dc9b12a2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dev_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_messages")),
    )
    with op.batch_alter_table("dev_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dev_messages_recipient"), ["recipient"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_due")

    op.drop_table("notifications")
    with op.batch_alter_table("dev_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dev_messages_recipient"))

    op.drop_table("dev_messages")
