"""The person's own account: who they are, their level, their contacts."""

from __future__ import annotations

from fastapi import Response

from idp.accounts.contacts.service import profile
from idp.accounts.schemas import Me, contact_view
from idp.http.deps import Ctx
from idp.http.json_route import JsonRoute
from idp.http.openapi import CALLER, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.sessions.auth import CurrentCaller

router = ApiRouter(prefix="/api/v1", tags=["account"], route_class=JsonRoute)


@router.get("/me", response_model=Me, responses=problems(401, 403), openapi_extra=security(CALLER))
async def me(ctx: Ctx, caller: CurrentCaller, response: Response) -> Me:
    """The account behind the session cookie or the first-party token. The SNILS is masked."""
    async with ctx.db.read() as session:
        found = await profile(session, ctx, caller.account.id)
    account = found.account
    response.headers["Cache-Control"] = "no-store"  # personal data (ASVS 5.0 14.3.2)
    return Me(
        sub=account.sub,
        last_name=account.last_name,
        first_name=account.first_name,
        middle_name=account.middle_name,
        level=account.level,
        confirmation_method=account.confirmation_method,
        contacts=[contact_view(c) for c in found.contacts],
        snils=found.masked_snils,
    )
