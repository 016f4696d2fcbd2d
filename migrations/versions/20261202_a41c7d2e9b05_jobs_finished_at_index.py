"""jobs: index on finished_at

The maintenance purge deletes settled jobs by ``finished_at``; without an index each pass scans
the whole table, and the table holds a month of settled jobs.

Revision ID: a41c7d2e9b05
Revises: 7c1e4f0a9b2d
Create Date: 2026-12-02 00:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "a41c7d2e9b05"
down_revision = "7c1e4f0a9b2d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_finished", ["finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_finished")
