from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db.base import Base
from idp.db.types import JsonType, UTCDateTime


class BrowserSession(Base):
    """A single sign-on session: one per browser login."""

    __tablename__ = "browser_sessions"
    __table_args__ = (
        # The expiry sweep (every 30 s) looks only at open sessions, by either deadline; the
        # purge at ended ones. Without these it reads every session ever started.
        Index(
            "ix_browser_sessions_open_expires_at",
            "expires_at",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index(
            "ix_browser_sessions_open_last_seen_at",
            "last_seen_at",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index(
            "ix_browser_sessions_ended_at",
            "ended_at",
            postgresql_where=text("ended_at IS NOT NULL"),
            sqlite_where=text("ended_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # SHA-256 of the cookie value; the cookie itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The ``sid`` claim: public, stable for the session, unrelated to the cookie.
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JsonType)
    acr: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(64))


class SessionClient(Base):
    """An RP that received tokens in a session: logout must tell it."""

    __tablename__ = "session_clients"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("browser_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True
    )
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Interaction(Base):
    """An authorization request waiting for the person (login, consent, level explanation)."""

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    request: Mapped[dict[str, Any]] = mapped_column(JsonType)
    # The browser that started it (hash of its CSRF cookie): nobody else may finish it.
    browser_hash: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set by the one submit that finished it; ``outcome`` is its answer (the redirect to the
    # client, sealed: it may carry a code), repeated to a second submit of the same form.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[bytes | None] = mapped_column(LargeBinary)
    code_hash: Mapped[str | None] = mapped_column(String(64))
