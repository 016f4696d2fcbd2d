from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, validates

from idp.db.base import Base
from idp.db.sealed import BlindIndex, Sealed
from idp.db.types import UTCDateTime


class Registration(Base):
    """A self-registration in progress: names and contacts, until a password is set."""

    __tablename__ = "registrations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The caller proves it started this registration with a secret we only keep hashed.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Names and contacts are personal data, sealed at rest (idp.db.sealed).
    first_name: Mapped[str] = mapped_column("first_name_sealed", Sealed("registrations.first_name"))
    last_name: Mapped[str] = mapped_column("last_name_sealed", Sealed("registrations.last_name"))
    middle_name: Mapped[str | None] = mapped_column(
        "middle_name_sealed", Sealed("registrations.middle_name")
    )
    phone: Mapped[str | None] = mapped_column("phone_sealed", Sealed("registrations.phone"))
    email: Mapped[str | None] = mapped_column("email_sealed", Sealed("registrations.email"))
    phone_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str] = mapped_column(String(8))
    # Consent to the processing of personal data (152-FZ art. 9): the operator's notice
    # version the person agreed to, and when; the account keeps them once it exists.
    privacy_notice_version: Mapped[str | None] = mapped_column(String(64))
    privacy_consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Verification(Base):
    """A code sent by SMS or a link sent by e-mail to prove control of a contact.

    Only a keyed hash of the code is stored. A resend replaces the code but keeps the failure
    count (NIST SP 800-63B-4 §3.1.3.3). A decoy verification is sent when the contact already
    belongs to another account: the person is warned instead of getting a code, and the caller
    cannot tell the difference.
    """

    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_owner", "owner_id", "purpose", "channel"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(8))
    # Sealed; found through ``target_lookup`` (the same keyed hash as a contact's).
    target: Mapped[str] = mapped_column("target_sealed", Sealed("verifications.target"))
    target_lookup: Mapped[str] = mapped_column(BlindIndex("contact"))
    secret_hash: Mapped[str] = mapped_column(String(64), index=True)
    decoy: Mapped[bool] = mapped_column(Boolean, default=False)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    sends: Mapped[int] = mapped_column(Integer, default=1)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @validates("target")
    def _keep_lookup(self, _key: str, target: str) -> str:
        self.target_lookup = target
        return target
