"""Checking an access token we issued: signature and lifetime from the JWT, then one query
for what a JWT cannot say by itself (revoked token, revoked grant, disabled account)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from idp.db.engine import Database
from idp.db.models import Account, Grant, RevokedAccessToken
from idp.keys.jws import TokenSigner

ACCESS_TOKEN_TYP = "at+jwt"  # RFC 9068 §2.1


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


async def check_access_token(
    token: str, *, signer: TokenSigner, db: Database, issuer: str
) -> ActiveToken | None:
    if len(token) > 4096:
        return None
    claims = await signer.verify(token, typ=ACCESS_TOKEN_TYP, audience=issuer, issuer=issuer)
    if claims is None or not isinstance(claims.get("jti"), str):
        return None
    grant_id = _grant_id(claims)
    async with db.read() as session:
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
