"""Who is calling the REST API: the SSO session cookie (with a CSRF header on unsafe methods).

The CSRF token for the portal's front end comes from ``GET /api/v1/me/csrf``; it is bound to the
browser cookie, so another site can neither read nor forge it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from idp.context import Context
from idp.errors import CsrfFailed, ProblemError
from idp.http.deps import get_context
from idp.sessions.service import LiveSession, find_live_session
from idp.web import cookies

API_CSRF_PURPOSE = "api"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class NotAuthenticated(ProblemError):
    status_code = 401
    type_slug = "not-authenticated"
    title = "Log in first"


async def current_session(request: Request) -> LiveSession:
    ctx: Context = get_context(request)
    cookie = cookies.read(request, cookies.SESSION, ctx.settings)
    async with ctx.db.read() as session:
        live = await find_live_session(session, cookie, ctx.clock.now(), ctx.settings.sessions)
    if live is None:
        raise NotAuthenticated("No active session.")
    if request.method not in SAFE_METHODS:
        browser_id = cookies.read(request, cookies.BROWSER, ctx.settings)
        if not ctx.csrf.check(browser_id, API_CSRF_PURPOSE, request.headers.get("x-csrf-token")):
            raise CsrfFailed("Send the X-CSRF-Token header from GET /api/v1/me/csrf.")
    return live


CurrentSession = Annotated[LiveSession, Depends(current_session)]
