from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db.base import Base
from idp.db.types import UTCDateTime


class QueuedJob(Base):
    """The one durable job queue (see ``idp.jobs``): written in the caller's transaction, run
    by a worker under a lease. Times are the database's clock, never an instance's."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "kind", "status", "next_attempt_at"),
        Index("ix_jobs_ref", "kind", "ref"),
        Index("ix_jobs_finished", "finished_at"),  # the purge of settled jobs
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))  # the handler's registered name
    ref: Mapped[str | None] = mapped_column(String(255))  # shown to operators: a client, a channel
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # JSON, sealed when ``sealed``
    sealed: Mapped[bool] = mapped_column(Boolean)
    # pending → running (leased) → done | failed; a running job whose lease ran out is claimable
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[str | None] = mapped_column(String(32))  # the handler's word when settled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When a pending job is due; for a running job, when its lease runs out.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
