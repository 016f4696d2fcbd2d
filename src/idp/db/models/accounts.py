from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from idp.db.base import Base
from idp.db.sealed import BlindIndex, Sealed
from idp.db.types import UTCDateTime


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The public subject identifier: random, never reused, unrelated to any personal data.
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    # Names are personal data: sealed at rest (idp.db.sealed); nothing looks an account up by name.
    first_name: Mapped[str] = mapped_column("first_name_sealed", Sealed("accounts.first_name"))
    last_name: Mapped[str] = mapped_column("last_name_sealed", Sealed("accounts.last_name"))
    middle_name: Mapped[str | None] = mapped_column(
        "middle_name_sealed", Sealed("accounts.middle_name")
    )
    level: Mapped[str] = mapped_column(String(16))
    confirmation_method: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # active | disabled (an operator blocked it) | deleting (purged after ``delete_after``);
    # everything that lets a person in checks ``status == "active"``.
    status: Mapped[str] = mapped_column(String(16), default="active")
    delete_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # SNILS is personal data: stored only encrypted, found through a keyed blind index.
    snils_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    snils_bidx: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Consent to the processing of personal data given at self-registration (152-FZ art. 9):
    # the notice version and the time. None for accounts an operator created.
    privacy_notice_version: Mapped[str | None] = mapped_column(String(64))
    privacy_consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Contact(Base):
    """A phone or e-mail of an account; only confirmed contacts log in, and they are unique."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index(
            "uq_contacts_confirmed_value",
            "kind",
            "value_lookup",
            unique=True,
            postgresql_where=text("confirmed_at IS NOT NULL"),
            sqlite_where=text("confirmed_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # "phone" | "email"
    # Sealed; found through ``value_lookup``, a keyed hash kept in step with it.
    value: Mapped[str] = mapped_column("value_sealed", Sealed("contacts.value"))
    value_lookup: Mapped[str] = mapped_column(BlindIndex("contact"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @validates("value")
    def _keep_lookup(self, _key: str, value: str) -> str:
        self.value_lookup = value
        return value
