"""privacy consent

Self-registration asks consent to the processing of personal data (Federal Law 152-FZ,
art. 9): the version of the operator's notice the person agreed to and the time are kept with
the registration and then with the account. Accounts made by an operator have none.

Revision ID: 5f2a8c1e7d43
Revises: b7d3e1f09a64
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types


revision = "5f2a8c1e7d43"
down_revision = "b7d3e1f09a64"
branch_labels = None
depends_on = None

_TABLES = ("registrations", "accounts")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("privacy_notice_version", sa.String(length=64), nullable=True)
            )
            batch.add_column(
                sa.Column(
                    "privacy_consented_at",
                    idp.db.types.UTCDateTime(timezone=True),
                    nullable=True,
                )
            )


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("privacy_consented_at")
            batch.drop_column("privacy_notice_version")
