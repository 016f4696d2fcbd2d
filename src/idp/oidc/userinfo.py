"""The UserInfo endpoint (OIDC Core §5.3), with Bearer tokens per RFC 6750."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse, Response

from idp.accounts.repository import AccountRepository
from idp.errors import InsufficientScope, InvalidRequest, InvalidToken
from idp.http.deps import Ctx
from idp.http.params import read_form
from idp.http.responses import NO_STORE, bearer_challenge
from idp.http.routing import ProtocolRouter
from idp.keys.access_tokens import check_access_token
from idp.oidc.claims import user_claims

router = ProtocolRouter()


async def _bearer(request: Request, max_length: int) -> str | None:
    header = request.headers.get("authorization")
    body_token = None
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        body_token = (await read_form(request, 4096)).get("access_token")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidRequest("The Authorization header must use the Bearer scheme.")
        if body_token is not None:
            # RFC 6750 §2: clients MUST NOT use more than one method per request.
            raise InvalidRequest("The token was sent twice.")
        return value.strip()
    return body_token


@router.api_route("/userinfo", methods=["GET", "POST"], include_in_schema=False)
async def userinfo(request: Request, ctx: Ctx) -> Response:
    token = await _bearer(request, ctx.settings.max_param_length)
    if token is None:
        # RFC 6750 §3.1: a request with no credentials gets the challenge and no error.
        return Response(
            status_code=401,
            headers={"WWW-Authenticate": bearer_challenge(None), **NO_STORE},
        )
    active = await check_access_token(
        token, signer=ctx.signer, db=ctx.db, issuer=ctx.settings.issuer
    )
    if active is None:
        raise InvalidToken("The access token is invalid, expired or revoked.")
    scopes = set(str(active.claims.get("scope", "")).split())
    if active.account is None or "openid" not in scopes:
        raise InsufficientScope("The token was not issued for the openid scope.")
    async with ctx.db.read() as session:
        contacts = await AccountRepository(session).contacts(active.account.id)
    return JSONResponse(user_claims(active.account, contacts, scopes, ctx.vault), headers=NO_STORE)
