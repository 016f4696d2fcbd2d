"""Qualified electronic signatures: the trust list of accredited CAs and the challenges a person
signs (issue 11)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db.base import Base
from idp.db.types import UTCDateTime


class TrustAnchor(Base):
    """One accredited CA certificate: a root or intermediate that certificate paths may end at.

    A CA is trusted for a signature only while it is listed (``withdrawn_at`` is null) and when
    the signing time falls inside its accreditation window (``accredited_from`` ..
    ``accredited_until``, either end open). A refresh of its source that no longer lists it
    withdraws it; the row is kept so that history can say which CA it was. An operator may
    block a CA (``blocked_at``): it is withdrawn, and stays withdrawn whatever list names it.
    The CA's names are organizations' names, not personal data.
    """

    __tablename__ = "trust_anchors"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    certificate: Mapped[bytes] = mapped_column(LargeBinary)  # DER
    subject: Mapped[str] = mapped_column(Text)  # RFC 4514 string of the CA's name
    name: Mapped[str] = mapped_column(String(255))  # the CA's name as its list gives it
    # certificates | etsi-tsl | ru-accredited | dev
    source_kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(1024))  # the file, directory or URL it came from
    accredited_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accredited_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)  # the certificate's own end
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The source whose list withdrew it: only that list may trust it again (another list that
    # withdrew a CA its first source still lists keeps it withdrawn).
    withdrawn_by: Mapped[str | None] = mapped_column(String(1024))
    # An operator's distrust (``idp trust block``): set with withdrawn_at, and no import of any
    # list ever trusts the CA again.
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignatureChallenge(Base):
    """A one-time text a person signs with their qualified certificate.

    Bound to one account and one purpose (``confirm``: raise the account to confirmed); valid
    until ``expires_at``; used once: the guarded UPDATE that sets ``used_at`` is the only way to
    verify a signature over it, so a replayed signature meets a used challenge. ``outcome`` is
    what its one verification ended with (``confirmed`` or the refusal's reason), and
    ``certificate_fingerprint`` which certificate signed it; neither is personal data.
    """

    __tablename__ = "signature_challenges"
    __table_args__ = (Index("ix_signature_challenges_account", "account_id", "issued_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(String(512))  # the exact text signed (UTF-8)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    certificate_fingerprint: Mapped[str | None] = mapped_column(String(64))
