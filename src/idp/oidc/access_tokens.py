"""Checking an access token we issued: signature and lifetime from the JWT, then one query
for what a JWT cannot say by itself (revoked token, revoked grant, disabled account)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from idp.context import Context
from idp.db.models import Account, Grant, RevokedAccessToken
from idp.oidc.tokens import ACCESS_TOKEN_TYP


@dataclass(frozen=True, slots=True)
class ActiveToken:
    claims: dict[str, Any]
    account: Account | None


def _grant_id(claims: dict[str, Any]) -> uuid.UUID | None:
    raw = claims.get("gid")
    if raw is None:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


async def check_access_token(ctx: Context, token: str) -> ActiveToken | None:
    if len(token) > 4096:
        return None
    claims = await ctx.signer.verify(
        token, typ=ACCESS_TOKEN_TYP, audience=ctx.settings.issuer, issuer=ctx.settings.issuer
    )
    if claims is None or not isinstance(claims.get("jti"), str):
        return None
    grant_id = _grant_id(claims)
    async with ctx.db.read() as session:
        revoked = await session.get(RevokedAccessToken, claims["jti"])
        if revoked is not None:
            return None
        if grant_id is None:
            if "gid" in claims:
                return None
            return ActiveToken(claims, None)  # client_credentials: no person behind it
        row = (
            await session.execute(
                select(Grant, Account)
                .join(Account, Account.id == Grant.account_id)
                .where(Grant.id == grant_id)
            )
        ).first()
    if row is None:
        return None
    grant, account = row
    if grant.revoked_at is not None or account.status != "active" or account.sub != claims["sub"]:
        return None
    return ActiveToken(claims, account)
