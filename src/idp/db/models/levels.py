"""What raises an account's level: the person's data, the registry checks run on it, and the
history of every level change (issue 10; the confirmation methods add theirs later)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, validates

from idp.db.base import Base
from idp.db.sealed import BlindIndex, Sealed, SealedCode
from idp.db.types import UTCDateTime

# The values code sees and the fixed-length codes sealed in their place.
SEX_CODES = (("male", "M"), ("female", "F"))
DOCUMENT_KIND_CODES = (("ru_passport", "RP"), ("foreign_passport", "FP"))


class PersonalData(Base):
    """The identity data a person entered for the standard level, one row per account.

    Every value is personal data and sealed; the names stay on ``accounts`` (the claims read them
    there). ``revision`` grows with every save: a registry check belongs to one revision, and a
    check of an older revision is superseded, never counted.
    """

    __tablename__ = "personal_data"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    # Choices are sealed as one-letter or two-letter codes: their ciphertexts have one length.
    sex: Mapped[str] = mapped_column("sex_sealed", SealedCode("personal_data.sex", SEX_CODES))
    birth_date: Mapped[str] = mapped_column(
        "birth_date_sealed", Sealed("personal_data.birth_date")
    )  # ISO 8601
    birth_place: Mapped[str] = mapped_column(
        "birth_place_sealed", Sealed("personal_data.birth_place")
    )
    citizenship: Mapped[str] = mapped_column(
        "citizenship_sealed", Sealed("personal_data.citizenship")
    )  # ISO 3166-1 alpha-3
    document_kind: Mapped[str] = mapped_column(
        "document_kind_sealed", SealedCode("personal_data.document_kind", DOCUMENT_KIND_CODES)
    )  # ru_passport | foreign_passport
    document_series: Mapped[str | None] = mapped_column(
        "document_series_sealed", Sealed("personal_data.document_series")
    )
    document_number: Mapped[str] = mapped_column(
        "document_number_sealed", Sealed("personal_data.document_number")
    )
    document_issued_on: Mapped[str] = mapped_column(
        "document_issued_on_sealed", Sealed("personal_data.document_issued_on")
    )
    document_issuer_code: Mapped[str | None] = mapped_column(
        "document_issuer_code_sealed", Sealed("personal_data.document_issuer_code")
    )
    document_issuer: Mapped[str | None] = mapped_column(
        "document_issuer_sealed", Sealed("personal_data.document_issuer")
    )
    snils: Mapped[str | None] = mapped_column("snils_sealed", Sealed("personal_data.snils"))
    # The same keyed hash as ``accounts.snils_bidx`` (field "snils"): a SNILS entered here is
    # compared with the verified ones without opening anything.
    snils_lookup: Mapped[str | None] = mapped_column(BlindIndex("snils"), index=True)
    inn: Mapped[str | None] = mapped_column("inn_sealed", Sealed("personal_data.inn"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @validates("snils")
    def _keep_lookup(self, _key: str, value: str | None) -> str | None:
        self.snils_lookup = value
        return value


class RegistryCheck(Base):
    """One registry check of one revision of a person's data, run by a ``registry_check`` job.

    queued → sent (the registry took the request: ``reference``) → waiting (it has not answered
    yet) → succeeded | failed (``reason``, and for a mismatch the names of the fields in
    ``fields``, never their values) | superseded (the data changed before it settled).
    """

    __tablename__ = "registry_checks"
    __table_args__ = (
        UniqueConstraint("account_id", "revision", "kind", name="uq_registry_checks_round"),
        Index("ix_registry_checks_state", "state", "updated_at"),
        # ``idp verifications list`` (newest first) and the stuck checks (oldest first).
        Index("ix_registry_checks_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # person | document | inn
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    fields: Mapped[str | None] = mapped_column(String(128))  # comma-separated field names
    verifier: Mapped[str] = mapped_column(String(64))  # the plug-in's name
    reference: Mapped[str | None] = mapped_column(String(128))  # the registry's request id
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When its current series of tries began (created, or re-armed after a registry failure):
    # ``registry_timeout`` counts from here.
    armed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LevelChange(Base):
    """Every change of an account's level: from, to, why, on what evidence, when."""

    __tablename__ = "level_history"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    from_level: Mapped[str] = mapped_column(String(16))
    to_level: Mapped[str] = mapped_column(String(16))
    # registry_checks | data_changed | operator | qes | service_center | post
    reason: Mapped[str] = mapped_column(String(32))
    # What proves it, never personal data: e.g. "registry_checks:<revision>:<check ids>".
    evidence: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
