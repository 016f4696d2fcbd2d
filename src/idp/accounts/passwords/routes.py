"""Passwords over the REST API: change (with the old one) and reset (with a code sent to a
confirmed contact). Neither logs anyone in; both end sessions with the logout fan-out."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Request, Response, status

from idp.accounts.passwords import reset
from idp.accounts.passwords.service import change_password
from idp.accounts.schemas import (
    PasswordChange,
    PasswordChanged,
    ResetConfirmation,
    ResetRequest,
    ResetStarted,
)
from idp.http.deps import Ctx, client_ip
from idp.http.json_route import JsonRoute
from idp.http.openapi import CALLER_WITH_CSRF, link, links, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.jobs.deps import Jobs
from idp.sessions.auth import CurrentCaller
from idp.web.i18n import request_locale

router = ApiRouter(prefix="/api/v1", tags=["passwords"], route_class=JsonRoute)
# Required: without it nothing about a reset is told or changed (422 names the header).
ResetToken = Annotated[
    str, Header(alias="X-Reset-Token", description="The token returned when the reset was asked")
]


def _locale(request: Request) -> str:
    return request_locale(request)


@router.post(
    "/me/password",
    response_model=PasswordChanged,
    responses=problems(401, 403, 409, 415, 422, 429, 503),
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def change(
    body: PasswordChange,
    request: Request,
    ctx: Ctx,
    caller: CurrentCaller,
    dispatcher: Jobs,
) -> PasswordChanged:
    """Change the password. The old one is required; every other session of the person ends
    (their relying parties are told, their refresh tokens die); the person is notified."""
    ended = await change_password(
        ctx,
        caller.account.id,
        old_password=body.old_password,
        new_password=body.new_password,
        new_password_repeat=body.new_password_repeat,
        keep_session=caller.session_id,
        locale=_locale(request),
        ip=client_ip(request),
        client_id=caller.client_id,
    )
    request.app.state.notifications.wake()
    await dispatcher.run_now(ended.jobs)
    return PasswordChanged(ended_sessions=len(ended.session_ids))


@router.post(
    "/password-resets",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ResetStarted,
    responses={
        **problems(415, 422, 429),
        **links(
            202,
            confirm=link(
                "finish_reset_api_v1_password_resets__reset_id__confirm_post",
                reset_id="$response.body#/id",
                **{"header.X-Reset-Token": "$response.body#/token"},
            ),
        ),
    },
)
async def start_reset(
    body: ResetRequest, request: Request, ctx: Ctx, response: Response
) -> ResetStarted:
    """Ask for a code to reset the password. The answer is the same whether or not the login
    exists; the code goes to the account's confirmed contact (by SMS or e-mail)."""
    async with ctx.db.transaction() as session:
        started = await reset.request_reset(
            session, ctx, body.login, locale=_locale(request), ip=client_ip(request)
        )
    request.app.state.notifications.wake()
    response.headers["Cache-Control"] = "no-store"
    return ResetStarted(id=str(started.id), token=started.token, expires_at=started.expires_at)


@router.post(
    "/password-resets/{reset_id}/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(400, 404, 415, 422, 503),
)
async def finish_reset(
    reset_id: uuid.UUID,
    body: ResetConfirmation,
    request: Request,
    ctx: Ctx,
    dispatcher: Jobs,
    token: ResetToken,
) -> Response:
    """Set the new password with the code. Every session of the person ends; nobody is
    logged in by this."""
    reset.refuse_new_password(ctx, body.new_password, body.new_password_repeat)
    async with ctx.db.read() as session:
        await reset.check_code_usable(session, ctx, reset_id, token)
    new_hash = await ctx.passwords.hash(body.new_password)  # outside any transaction
    async with ctx.db.transaction() as session:
        checked = await reset.confirm_reset(
            session,
            ctx,
            reset_id,
            token,
            code=body.code,
            new_password=body.new_password,
            new_hash=new_hash,
            locale=_locale(request),
            ip=client_ip(request),
        )
    if checked.problem is not None:
        raise checked.problem  # after the commit: the wrong attempt stays counted
    ended = checked.ended
    request.app.state.notifications.wake()
    await dispatcher.run_now(ended.jobs)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
