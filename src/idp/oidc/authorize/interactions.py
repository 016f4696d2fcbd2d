"""Pending authorization requests that wait for the person, bound to the browser that
started them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from idp.context import Context
from idp.db.models import Interaction
from idp.oidc.authorize.request import AuthorizationRequest
from idp.security.tokens import digest, new_token


def start(
    session: AsyncSession, ctx: Context, request: AuthorizationRequest, browser_id: str
) -> str:
    now = ctx.clock.now()
    interaction_id = new_token(24)
    session.add(
        Interaction(
            id=interaction_id,
            client_id=request.client_id,
            request=request.to_json(),
            browser_hash=digest(browser_id),
            created_at=now,
            expires_at=now + timedelta(seconds=ctx.settings.sessions.interaction_ttl),
        )
    )
    return interaction_id


async def finish(session: AsyncSession, interaction_id: str) -> None:
    await session.execute(delete(Interaction).where(Interaction.id == interaction_id))
