from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String, true
from sqlalchemy.orm import Mapped, mapped_column

from idp.db.base import Base
from idp.db.types import JsonType, UTCDateTime


class Client(Base):
    """A relying party registered by an operator."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of a 256-bit random secret: a slow hash adds nothing for secrets this strong.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    auth_method: Mapped[str] = mapped_column(String(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JsonType)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JsonType)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2048))
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(String(2048))
    # Front-Channel Logout 1.0 §2: send iss and sid to the RP's front-channel URI.
    frontchannel_logout_session_required: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    grant_types: Mapped[list[str]] = mapped_column(JsonType)
    scopes: Mapped[list[str]] = mapped_column(JsonType)
    min_level: Mapped[str] = mapped_column(String(16))
    forbidden_confirmation_methods: Mapped[list[str]] = mapped_column(JsonType)
    require_consent: Mapped[bool] = mapped_column(Boolean)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
