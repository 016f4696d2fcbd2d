"""standard level: personal data, registry checks, level history

``personal_data``: what a person entered for the standard level, every value sealed (the
SNILS also as a keyed hash, the same as ``accounts.snils_bidx``), with a revision that grows on
each save. ``registry_checks``: one registry check of one revision, run by a ``registry_check``
job. ``level_history``: every change of an account's level, with its reason and evidence.

Revision ID: e6a41f3c8d27
Revises: 5f2a8c1e7d43
Create Date: 2026-12-02 12:57:24.286894
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types

revision = "e6a41f3c8d27"
down_revision = "5f2a8c1e7d43"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "level_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("from_level", sa.String(length=16), nullable=False),
        sa.Column("to_level", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.String(length=255), nullable=True),
        sa.Column("at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_level_history_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_level_history")),
    )
    with op.batch_alter_table("level_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_level_history_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "personal_data",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("sex_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("birth_date_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("birth_place_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("citizenship_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("document_kind_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("document_series_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("document_number_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("document_issued_on_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("document_issuer_code_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("document_issuer_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("snils_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("snils_lookup", sa.String(length=64), nullable=True),
        sa.Column("inn_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_personal_data_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_personal_data")),
    )
    with op.batch_alter_table("personal_data", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_personal_data_snils_lookup"), ["snils_lookup"], unique=False
        )

    op.create_table(
        "registry_checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("fields", sa.String(length=128), nullable=True),
        sa.Column("verifier", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("armed_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_registry_checks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_checks")),
        sa.UniqueConstraint("account_id", "revision", "kind", name="uq_registry_checks_round"),
    )
    with op.batch_alter_table("registry_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_checks_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index("ix_registry_checks_state", ["state", "updated_at"], unique=False)
        batch_op.create_index("ix_registry_checks_created", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registry_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_checks_created")
        batch_op.drop_index("ix_registry_checks_state")
        batch_op.drop_index(batch_op.f("ix_registry_checks_account_id"))

    op.drop_table("registry_checks")
    with op.batch_alter_table("personal_data", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_data_snils_lookup"))

    op.drop_table("personal_data")
    with op.batch_alter_table("level_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_level_history_account_id"))

    op.drop_table("level_history")
