"""Token introspection (RFC 7662). A client may introspect only tokens issued to it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from idp.context import Context
from idp.db.models import Account, Grant, RefreshToken
from idp.errors import InvalidClient, InvalidRequest
from idp.http.deps import Ctx
from idp.http.params import read_form
from idp.http.responses import NO_STORE
from idp.http.routing import ProtocolRouter
from idp.keys.access_tokens import check_access_token
from idp.oidc.client_auth import authenticate_client
from idp.security.tokens import digest

router = ProtocolRouter()
INACTIVE: dict[str, Any] = {"active": False}


async def _refresh_token_info(ctx: Context, value: str, client_id: str) -> dict[str, Any] | None:
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        row = await session.get(RefreshToken, digest(value))
        if row is None or row.rotated_at is not None or row.expires_at <= now:
            return None
        grant = await session.get(Grant, row.grant_id)
        if grant is None or grant.revoked_at is not None or grant.client_id != client_id:
            return None
        account = await session.get(Account, grant.account_id)
    if account is None or account.status != "active":
        return None
    return {
        "active": True,
        "token_type": "refresh_token",
        "client_id": client_id,
        "sub": account.sub,
        "scope": row.scope,
        "iss": ctx.settings.issuer,
        "iat": int(row.created_at.timestamp()),
        "exp": int(row.expires_at.timestamp()),
        # The level as it is now (levels change), not the one stored with the token.
        "acr": account.level,
    }


@router.post("/introspect", include_in_schema=False)
async def introspect(request: Request, ctx: Ctx) -> Response:
    params = await read_form(request, ctx.settings.max_param_length)
    client = await authenticate_client(request, params, ctx)
    if client.is_public:
        # RFC 7662 §2.1: the endpoint MUST require authorization (against token scanning);
        # a public client_id proves nothing, and discovery offers no "none" method here.
        raise InvalidClient("Introspection needs client authentication.")
    token = params.get("token")
    if not token:
        raise InvalidRequest("token is required.")
    hint = params.get("token_type_hint")
    body: dict[str, Any] | None = None
    order = ("refresh", "access") if hint == "refresh_token" else ("access", "refresh")
    for kind in order:
        if kind == "access" and token.count(".") == 2:
            active = await check_access_token(
                token, signer=ctx.signer, db=ctx.db, issuer=ctx.settings.issuer
            )
            if active is not None and active.claims.get("client_id") == client.client_id:
                body = {"active": True, "token_type": "Bearer", **active.claims}
                if active.account is not None:
                    body["acr"] = active.account.level  # live, not what the JWT says
        elif kind == "refresh" and token.count(".") == 0:
            body = await _refresh_token_info(ctx, token, client.client_id)
        if body is not None:
            break
    return JSONResponse(body or INACTIVE, headers=NO_STORE)
