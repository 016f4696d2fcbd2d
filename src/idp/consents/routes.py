"""The person's consents over the REST API: see them, withdraw one."""

from __future__ import annotations

from fastapi import Path, Request, Response

from idp.consents import service as consents
from idp.consents.schemas import ConsentItem, ConsentList, ConsentWithdrawn
from idp.http.deps import Ctx, client_ip
from idp.http.json_route import JsonRoute
from idp.http.openapi import CALLER, CALLER_WITH_CSRF, link, links, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.sessions.auth import CurrentCaller

router = ApiRouter(prefix="/api/v1/me/consents", tags=["account"], route_class=JsonRoute)


@router.get(
    "",
    response_model=ConsentList,
    responses={
        **problems(401, 403),
        **links(
            200,
            withdraw=link(
                "withdraw_api_v1_me_consents__client_id__delete",
                client_id="$response.body#/consents/0/client_id",
            ),
        ),
    },
    openapi_extra=security(CALLER),
)
async def list_consents(ctx: Ctx, caller: CurrentCaller, response: Response) -> ConsentList:
    """Which clients the person allowed which scopes, newest first."""
    async with ctx.db.read() as session:
        found = await consents.consents_of(session, caller.account.id)
    response.headers["Cache-Control"] = "no-store"
    return ConsentList(
        consents=[
            ConsentItem(
                client_id=c.client_id,
                client_name=c.client_name,
                scopes=c.scopes,
                granted_at=c.granted_at,
            )
            for c in found
        ]
    )


@router.delete(
    "/{client_id}",
    response_model=ConsentWithdrawn,
    responses=problems(401, 403, 404, 422),
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def withdraw(
    request: Request,
    ctx: Ctx,
    caller: CurrentCaller,
    client_id: str = Path(max_length=64),
) -> ConsentWithdrawn:
    """Withdraw the consent given to a client: the next login there asks again, and the
    client's grants for this account are revoked (its refresh tokens stop working)."""
    async with ctx.db.transaction() as session:
        revoked = await consents.withdraw(
            session, caller.account.id, client_id, now=ctx.clock.now(), ip=client_ip(request)
        )
    return ConsentWithdrawn(client_id=client_id, revoked_grants=revoked)
