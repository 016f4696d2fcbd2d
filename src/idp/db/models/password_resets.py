from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db.base import Base
from idp.db.types import UTCDateTime


class PasswordReset(Base):
    """A password reset in progress: a code went to a confirmed contact of the account.

    A reset asked for a login nobody has is stored too (``account_id`` empty, a decoy), so the
    answers look the same either way. The caller proves it started the reset with a token we
    only keep hashed; the code itself is a ``Verification`` owned by this row.
    """

    __tablename__ = "password_resets"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
