"""The person's phones and e-mail addresses over the REST API.

Changing a contact is adding the new one, confirming it, then removing the old one. E-mail
addresses are confirmed with the link sent to them (``POST /api/v1/email-confirmations``).
"""

from __future__ import annotations

import uuid

from fastapi import Request, Response, status

from idp.accounts.contacts import service as contacts
from idp.accounts.schemas import (
    ContactAdd,
    ContactAdded,
    ContactCode,
    ContactView,
    Resent,
    contact_view,
)
from idp.http.deps import Ctx, client_ip
from idp.http.json_route import JsonRoute
from idp.http.openapi import CALLER_WITH_CSRF, link, links, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.sessions.auth import CurrentCaller, RecentCaller
from idp.web.i18n import request_locale

router = ApiRouter(prefix="/api/v1/me/contacts", tags=["account"], route_class=JsonRoute)


def _locale(request: Request) -> str:
    return request_locale(request)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContactAdded,
    responses={
        **problems(401, 403, 404, 409, 415, 422, 429),
        **links(
            201,
            confirm=link(
                "confirm_api_v1_me_contacts__contact_id__confirm_post",
                contact_id="$response.body#/id",
            ),
            resend=link(
                "resend_api_v1_me_contacts__contact_id__resend_post",
                contact_id="$response.body#/id",
            ),
            remove=link(
                "remove_api_v1_me_contacts__contact_id__delete", contact_id="$response.body#/id"
            ),
        ),
    },
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def add(body: ContactAdd, request: Request, ctx: Ctx, caller: RecentCaller) -> ContactAdded:
    """Add a phone (a code is sent by SMS) or an e-mail address (a link is sent to it). The
    login must be recent (``reauthentication-required`` otherwise), as on the console."""
    async with ctx.db.transaction() as session:
        contact = await contacts.add_contact(
            session,
            ctx,
            caller.account.id,
            body.kind,
            body.value,
            locale=_locale(request),
            ip=client_ip(request),
        )
    request.app.state.notifications.wake()
    return ContactAdded(
        **contact_view(contact).model_dump(),
        resend_after=ctx.settings.verification.resend_cooldown,
    )


@router.post(
    "/{contact_id}/confirm",
    response_model=ContactView,
    responses=problems(400, 401, 403, 404, 409, 415, 422),
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def confirm(
    contact_id: uuid.UUID, body: ContactCode, request: Request, ctx: Ctx, caller: CurrentCaller
) -> ContactView:
    """Confirm a phone with the code sent to it."""
    async with ctx.db.transaction() as session:
        checked = await contacts.confirm_phone(
            session,
            ctx,
            caller.account.id,
            contact_id,
            body.code,
            locale=_locale(request),
            ip=client_ip(request),
        )
    if checked.problem is not None:
        raise checked.problem  # after the commit: the wrong attempt stays counted
    contact = checked.contact
    request.app.state.notifications.wake()
    return contact_view(contact)


@router.post(
    "/{contact_id}/resend",
    response_model=Resent,
    responses=problems(400, 401, 403, 404, 422, 429),
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def resend(
    contact_id: uuid.UUID, request: Request, ctx: Ctx, caller: CurrentCaller
) -> Resent:
    """Send a new code (the old one stops working; wrong tries stay counted) or a new link."""
    async with ctx.db.transaction() as session:
        wait = await contacts.resend(
            session, ctx, caller.account.id, contact_id, locale=_locale(request)
        )
    request.app.state.notifications.wake()
    return Resent(resend_after=wait)


@router.delete(
    "/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def remove(
    contact_id: uuid.UUID, request: Request, ctx: Ctx, caller: RecentCaller
) -> Response:
    """Remove a contact. The last confirmed one cannot be removed. The login must be recent
    (``reauthentication-required`` otherwise), as on the console."""
    async with ctx.db.transaction() as session:
        await contacts.remove_contact(
            session,
            ctx,
            caller.account.id,
            contact_id,
            locale=_locale(request),
            ip=client_ip(request),
        )
    request.app.state.notifications.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
