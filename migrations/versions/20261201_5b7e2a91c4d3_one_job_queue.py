"""one job queue

Replaces the two outboxes (``logout_deliveries``, ``notifications``) with one ``jobs`` table.
Pre-release: rows of the old tables are not carried over (a pending notification holds a
one-time code that has expired by the time anyone upgrades; logouts still pending are lost,
which the release notes say). The downgrade recreates the old tables empty.

Revision ID: 5b7e2a91c4d3
Revises: d8c3b9cca2e0
Create Date: 2026-12-01 11:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types


revision = "5b7e2a91c4d3"
down_revision = "d8c3b9cca2e0"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("deadline", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_due", ["kind", "status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_jobs_ref", ["kind", "ref"], unique=False)

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_due")
    op.drop_table("notifications")

    with op.batch_alter_table("logout_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_logout_deliveries_session_id"))
        batch_op.drop_index("ix_logout_deliveries_due")
    op.drop_table("logout_deliveries")


def downgrade() -> None:
    op.create_table(
        "logout_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=64), nullable=False),
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logout_deliveries")),
    )
    with op.batch_alter_table("logout_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_logout_deliveries_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_logout_deliveries_session_id"), ["session_id"], unique=False
        )

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

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_ref")
        batch_op.drop_index("ix_jobs_due")
    op.drop_table("jobs")
