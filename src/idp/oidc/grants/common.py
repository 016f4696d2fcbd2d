"""What the grant types share: the token response, grant revocation, loading claims."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.context import Context
from idp.db.models import Grant, RefreshToken
from idp.errors import InvalidGrant
from idp.security.tokens import digest, new_token


class GrantCompromised(InvalidGrant):
    """A replayed code or refresh token: the grant behind it must die (RFC 9700 §4.14.2)."""

    def __init__(self, grant_id: uuid.UUID | None, description: str) -> None:
        super().__init__(description)
        self.grant_id = grant_id


async def revoke_grant(
    session: AsyncSession, grant_id: uuid.UUID, now: datetime, reason: str
) -> None:
    await session.execute(
        update(Grant)
        .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


def new_refresh_token(
    session: AsyncSession,
    ctx: Context,
    *,
    grant_id: uuid.UUID,
    scope: str,
    auth_time: datetime,
    acr: str,
    amr: list[str],
    sid: str | None,
    absolute_expires_at: datetime | None = None,
) -> str:
    now = ctx.clock.now()
    settings = ctx.settings.tokens
    absolute = absolute_expires_at or now + timedelta(seconds=settings.refresh_token_ttl)
    value = new_token(32)
    session.add(
        RefreshToken(
            token_hash=digest(value),
            grant_id=grant_id,
            scope=scope,
            auth_time=auth_time,
            acr=acr,
            amr=amr,
            sid=sid,
            created_at=now,
            expires_at=min(absolute, now + timedelta(seconds=settings.refresh_token_idle_ttl)),
            absolute_expires_at=absolute,
        )
    )
    return value


def token_response(
    access_token: str,
    expires_in: int,
    scope: str,
    *,
    refresh_token: str | None = None,
    id_token: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if id_token is not None:
        body["id_token"] = id_token
    return body
