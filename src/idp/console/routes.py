"""The person's recent sign-ins over the REST API (the console's sign-in page as JSON)."""

from __future__ import annotations

from fastapi import Response

from idp.console import service as console
from idp.console.schemas import SignInItem, SignInList
from idp.http.deps import Ctx
from idp.http.json_route import JsonRoute
from idp.http.openapi import CALLER, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.sessions.auth import CurrentCaller

router = ApiRouter(prefix="/api/v1/me", tags=["account"], route_class=JsonRoute)


@router.get(
    "/sign-ins",
    response_model=SignInList,
    responses=problems(401, 403),
    openapi_extra=security(CALLER),
)
async def sign_ins(ctx: Ctx, caller: CurrentCaller, response: Response) -> SignInList:
    """The account's latest successful logins: time, device label and network."""
    async with ctx.db.read() as session:
        found = await console.sign_ins(session, ctx, caller.account.id, caller.session_id)
    response.headers["Cache-Control"] = "no-store"  # personal data
    return SignInList(
        sign_ins=[
            SignInItem(
                at=s.at, device=s.device, network=s.network, current=s.this_session, via=s.via
            )
            for s in found
        ]
    )
