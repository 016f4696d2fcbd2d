"""The token endpoint (RFC 6749 §3.2): authenticate the client, then run its grant.

The endpoint owns the unit of work: the grant runs in one transaction, and the tokens are
signed after it commits (``grants.common.sign``). A replayed code or refresh token rolls the
grant's transaction back, and the revocation it calls for is committed on its own before the
error is answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response

from idp.audit.log import record
from idp.clients.model import ClientInfo
from idp.context import Context
from idp.errors import InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from idp.http.deps import Ctx
from idp.http.params import read_form
from idp.http.responses import NO_STORE
from idp.http.routing import ProtocolRouter
from idp.oidc.client_auth import authenticate_client
from idp.oidc.grants import authorization_code, client_credentials, refresh_token
from idp.oidc.grants.common import GrantCompromised, Issued, revoke_grant, sign

router = ProtocolRouter()

Handler = Callable[[AsyncSession, Context, ClientInfo, dict[str, str]], Awaitable[Issued]]
GRANTS: dict[str, Handler] = {
    "authorization_code": authorization_code.exchange,
    "refresh_token": refresh_token.refresh,
    "client_credentials": client_credentials.issue,
}


@router.post("/token", include_in_schema=False)
async def token(request: Request, ctx: Ctx) -> Response:
    params = await read_form(request, ctx.settings.max_param_length)
    grant_type = params.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required.")
    handler = GRANTS.get(grant_type)
    client = await authenticate_client(request, params, ctx)
    if handler is None:
        # RFC 9700 §2.4: the password grant is never offered; implicit has no token call.
        raise UnsupportedGrantType("This grant_type is not supported.")
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"This client may not use {grant_type}.")
    try:
        async with ctx.db.transaction() as session:
            issued = await handler(session, ctx, client, params)
    except GrantCompromised as exc:
        # The grant's own transaction was rolled back with the refusal; the revocation is
        # its own unit of work, committed before the error is answered.
        if exc.grant_id is not None:
            await _revoke_after_replay(ctx, exc)
        raise
    return JSONResponse(await sign(ctx, client, issued), headers=NO_STORE)


async def _revoke_after_replay(ctx: Context, exc: GrantCompromised) -> None:
    assert exc.grant_id is not None
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        await revoke_grant(session, exc.grant_id, now, "replay")
        record(session, "grant.revoked", at=now, outcome="replay", grant_id=str(exc.grant_id))
