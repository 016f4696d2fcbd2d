"""qualified signatures: the trust list and the challenges

``trust_anchors``: accredited CA certificates (DER) with their accreditation windows and where
they came from; a refresh that no longer lists one withdraws it, and an operator may block one
(``blocked_at``) so that no list trusts it again. ``signature_challenges``: the
one-time texts a person signs to confirm their account, used once by a guarded UPDATE.

Revision ID: 4c2d9a7e1f38
Revises: e6a41f3c8d27
Create Date: 2026-12-02 16:04:00.786434
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db.types

revision = "4c2d9a7e1f38"
down_revision = "e6a41f3c8d27"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trust_anchors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("accredited_from", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accredited_until", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("not_after", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("imported_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=1024), nullable=True),
        sa.Column("blocked_at", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_anchors")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_trust_anchors_fingerprint")),
    )
    op.create_table(
        "signature_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("content", sa.String(length=512), nullable=False),
        sa.Column("issued_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", idp.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", idp.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("certificate_fingerprint", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_signature_challenges_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_challenges")),
    )
    with op.batch_alter_table("signature_challenges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signature_challenges_account", ["account_id", "issued_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_signature_challenges_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signature_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signature_challenges_expires_at"))
        batch_op.drop_index("ix_signature_challenges_account")

    op.drop_table("signature_challenges")
    op.drop_table("trust_anchors")
