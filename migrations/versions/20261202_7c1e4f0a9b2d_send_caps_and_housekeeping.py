"""send caps and housekeeping indexes

``send_counters`` holds the hourly send caps (per purpose and target, per sender, the SMS
budget). The indexes let the session expiry sweep read only open sessions and the housekeeping
purge find ended sessions, revoked or old grants and refresh-token chains past their end.

Revision ID: 7c1e4f0a9b2d
Revises: 8e4b2c6d1f07
Create Date: 2026-12-02 00:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types

revision = "7c1e4f0a9b2d"
down_revision = "8e4b2c6d1f07"
branch_labels = None
depends_on = None

_OPEN = "ended_at IS NULL"
_ENDED = "ended_at IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "send_counters",
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("window_start", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_counters")),
    )
    with op.batch_alter_table("send_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_send_counters_window_start"), ["window_start"], unique=False
        )
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_browser_sessions_open_expires_at",
            ["expires_at"],
            unique=False,
            postgresql_where=sa.text(_OPEN),
            sqlite_where=sa.text(_OPEN),
        )
        batch_op.create_index(
            "ix_browser_sessions_open_last_seen_at",
            ["last_seen_at"],
            unique=False,
            postgresql_where=sa.text(_OPEN),
            sqlite_where=sa.text(_OPEN),
        )
        batch_op.create_index(
            "ix_browser_sessions_ended_at",
            ["ended_at"],
            unique=False,
            postgresql_where=sa.text(_ENDED),
            sqlite_where=sa.text(_ENDED),
        )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grants_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_grants_revoked_at"), ["revoked_at"], unique=False)
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_absolute_expires_at"),
            ["absolute_expires_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_absolute_expires_at"))
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grants_revoked_at"))
        batch_op.drop_index(batch_op.f("ix_grants_created_at"))
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_browser_sessions_ended_at")
        batch_op.drop_index("ix_browser_sessions_open_last_seen_at")
        batch_op.drop_index("ix_browser_sessions_open_expires_at")
    with op.batch_alter_table("send_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_send_counters_window_start"))
    op.drop_table("send_counters")
