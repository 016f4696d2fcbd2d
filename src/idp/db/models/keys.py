from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db.base import Base
from idp.db.types import JsonType, UTCDateTime


class SigningKey(Base):
    """A JWS key. The private part is sealed with the key-encryption key from settings."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JsonType)
    private_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Published from creation; signs from ``activates_at`` (after caches saw it in JWKS).
    activates_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when a newer key takes over; stays in JWKS until ``published_until``.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
