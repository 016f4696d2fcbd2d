"""A person's own sessions: list them, end one, end all (with the same logout fan-out)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request
from sqlalchemy import select
from starlette.responses import Response

from idp.db.models import BrowserSession, Client, SessionClient
from idp.errors import NotFound
from idp.http import cookies
from idp.http.deps import Ctx
from idp.http.openapi import SESSION, SESSION_WITH_CSRF, link, links, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.http.schemas import CsrfToken
from idp.jobs.deps import Jobs
from idp.security.csrf import Csrf
from idp.sessions.auth import API_CSRF_PURPOSE, CurrentSession
from idp.sessions.schemas import ClientRef, EndedSessions, SessionList, SessionView
from idp.sessions.service import end_sessions, live_sessions_of

router = ApiRouter(prefix="/api/v1/me", tags=["sessions"])


@router.get(
    "/csrf", response_model=CsrfToken, responses=problems(401), openapi_extra=security(SESSION)
)
async def csrf_token(
    request: Request, ctx: Ctx, _live: CurrentSession, response: Response
) -> CsrfToken:
    browser_id = cookies.read(request, cookies.BROWSER, ctx.settings)
    if browser_id is None:
        browser_id = Csrf.new_browser_id()
        cookies.write(response, cookies.BROWSER, browser_id, ctx.settings, max_age=400 * 86400)
    response.headers["Cache-Control"] = "no-store"
    return CsrfToken(csrf_token=ctx.csrf.token_for(browser_id, API_CSRF_PURPOSE))


@router.get(
    "/sessions",
    response_model=SessionList,
    responses={
        **problems(401),
        **links(
            200,
            end_one=link(
                "end_one_api_v1_me_sessions__session_id__delete",
                session_id="$response.body#/sessions/0/id",
            ),
        ),
    },
    openapi_extra=security(SESSION),
)
async def list_sessions(ctx: Ctx, live: CurrentSession, response: Response) -> SessionList:
    response.headers["Cache-Control"] = "no-store"  # addresses and devices are personal data
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        records = await live_sessions_of(
            session, live.account.id, now, ctx.settings.sessions.idle_ttl
        )
        rows = (
            await session.execute(
                select(SessionClient.session_id, Client.client_id, Client.name)
                .join(Client, Client.client_id == SessionClient.client_id)
                .where(SessionClient.session_id.in_([r.id for r in records]))
            )
        ).all()
    by_session: dict[uuid.UUID, list[ClientRef]] = {}
    for session_id, client_id, name in rows:
        by_session.setdefault(session_id, []).append(ClientRef(client_id=client_id, name=name))
    return SessionList(sessions=[_view(r, live, by_session.get(r.id, [])) for r in records])


def _view(record: BrowserSession, live: CurrentSession, clients: list[ClientRef]) -> SessionView:
    return SessionView(
        id=str(record.id),
        current=record.id == live.record.id,
        device=record.user_agent,
        address=record.ip,
        created_at=record.created_at,
        last_seen_at=record.last_seen_at,
        auth_time=record.auth_time,
        clients=clients,
    )


@router.delete(
    "/sessions/{session_id}",
    response_model=EndedSessions,
    responses=problems(401, 403, 404, 422),
    openapi_extra=security(SESSION_WITH_CSRF),
)
async def end_one(
    session_id: uuid.UUID,
    ctx: Ctx,
    live: CurrentSession,
    dispatcher: Jobs,
    response: Response,
) -> EndedSessions:
    async with ctx.db.transaction() as session:
        record = await session.get(BrowserSession, session_id)
        if record is None or record.account_id != live.account.id or record.ended_at is not None:
            raise NotFound("No such active session.")
        ended = await end_sessions(
            session, ctx, [record], reason="ended_by_person", actor="person", claim=True
        )
    await dispatcher.run_now(ended.jobs)
    if live.record.id in ended.session_ids:
        cookies.clear(response, cookies.SESSION, ctx.settings)
    return EndedSessions(ended=len(ended.session_ids))


@router.delete(
    "/sessions",
    response_model=EndedSessions,
    responses=problems(401, 403, 422),
    openapi_extra=security(SESSION_WITH_CSRF),
)
async def end_all(
    ctx: Ctx,
    live: CurrentSession,
    dispatcher: Jobs,
    response: Response,
    keep_current: Annotated[bool, Query(description="Leave this session running")] = False,
) -> EndedSessions:
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        records = await live_sessions_of(
            session, live.account.id, now, ctx.settings.sessions.idle_ttl
        )
        if keep_current:
            records = [r for r in records if r.id != live.record.id]
        ended = await end_sessions(
            session, ctx, records, reason="ended_by_person", actor="person", claim=True
        )
    await dispatcher.run_now(ended.jobs)
    if live.record.id in ended.session_ids:
        cookies.clear(response, cookies.SESSION, ctx.settings)
    return EndedSessions(ended=len(ended.session_ids))
