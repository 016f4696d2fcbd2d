"""Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant, access
tokens included (§2.1); revoking an access token records its ``jti`` until it expires."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from idp.audit.log import record
from idp.clients.model import ClientInfo
from idp.context import Context
from idp.db.models import Grant, RefreshToken, RevokedAccessToken
from idp.errors import InvalidRequest
from idp.http.deps import Ctx
from idp.http.params import read_form
from idp.http.responses import NO_STORE
from idp.http.routing import ProtocolRouter
from idp.keys.access_tokens import ACCESS_TOKEN_TYP
from idp.oidc.client_auth import authenticate_client
from idp.oidc.grants.common import revoke_grant
from idp.security.tokens import digest

router = ProtocolRouter()


async def _revoke_refresh(ctx: Context, client: ClientInfo, value: str) -> bool:
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        row = await session.get(RefreshToken, digest(value))
        if row is None:
            return False
        grant = await session.get(Grant, row.grant_id)
        if grant is None or grant.client_id != client.client_id:
            return False
        await revoke_grant(session, grant.id, now, "revoked")
        record(
            session,
            "token.revoked",
            at=now,
            client_id=client.client_id,
            account_id=grant.account_id,
            kind="refresh_token",
        )
    return True


async def _revoke_access(ctx: Context, client: ClientInfo, value: str) -> bool:
    claims = await ctx.signer.verify(
        value, typ=ACCESS_TOKEN_TYP, issuer=ctx.settings.issuer, audience=ctx.settings.issuer
    )
    if claims is None or claims.get("client_id") != client.client_id:
        return False
    try:
        async with ctx.db.transaction() as session:
            session.add(
                RevokedAccessToken(
                    jti=str(claims["jti"]), expires_at=datetime.fromtimestamp(claims["exp"], UTC)
                )
            )
            record(
                session,
                "token.revoked",
                at=ctx.clock.now(),
                client_id=client.client_id,
                kind="access_token",
            )
    except IntegrityError:
        pass  # already revoked: revocation is idempotent
    return True


@router.post("/revoke", include_in_schema=False)
async def revoke(request: Request, ctx: Ctx) -> Response:
    params = await read_form(request, ctx.settings.max_param_length)
    client = await authenticate_client(request, params, ctx)
    token = params.get("token")
    if not token:
        raise InvalidRequest("token is required.")
    if token.count(".") == 2:
        await _revoke_access(ctx, client, token)
    else:
        await _revoke_refresh(ctx, client, token)
    # RFC 7009 §2.2: invalid or unknown tokens get 200 too; nothing is revealed.
    return Response(status_code=200, headers=NO_STORE)
