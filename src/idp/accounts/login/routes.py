"""Logging in and out from a first-party app (the portal's front end) through the REST API.

The result is the same SSO session cookie the login page sets. Login CSRF is blocked by the
X-CSRF-Token header, which only a page able to read ``GET /api/v1/csrf`` can send.
"""

from __future__ import annotations

from fastapi import Request, status
from starlette.responses import Response

from idp.accounts.login.service import log_in, log_out
from idp.accounts.schemas import AccountSummary, LoginRequest
from idp.context import Context
from idp.db.models import Account
from idp.errors import CsrfFailed
from idp.http import cookies
from idp.http.deps import Ctx, client_ip
from idp.http.json_route import JsonRoute
from idp.http.openapi import BROWSER_WITH_CSRF, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.http.schemas import CsrfToken
from idp.jobs.deps import Jobs
from idp.security.csrf import Csrf
from idp.sessions.auth import API_CSRF_PURPOSE

router = ApiRouter(prefix="/api/v1", tags=["login"], route_class=JsonRoute)
BROWSER_COOKIE_AGE = 400 * 86400


def summary(account: Account) -> AccountSummary:
    return AccountSummary(
        sub=account.sub,
        last_name=account.last_name,
        first_name=account.first_name,
        middle_name=account.middle_name,
        level=account.level,
        confirmation_method=account.confirmation_method,
    )


def _require_csrf(request: Request, ctx: Context) -> None:
    browser_id = cookies.read(request, cookies.BROWSER, ctx.settings)
    if not ctx.csrf.check(browser_id, API_CSRF_PURPOSE, request.headers.get("x-csrf-token")):
        raise CsrfFailed("Send the X-CSRF-Token header from GET /api/v1/csrf.")


@router.get("/csrf", response_model=CsrfToken)
async def csrf_token(request: Request, ctx: Ctx, response: Response) -> CsrfToken:
    """A CSRF token for this browser, before logging in (no session needed)."""
    browser_id = cookies.read(request, cookies.BROWSER, ctx.settings)
    if browser_id is None:
        browser_id = Csrf.new_browser_id()
        cookies.write(response, cookies.BROWSER, browser_id, ctx.settings, BROWSER_COOKIE_AGE)
    response.headers["Cache-Control"] = "no-store"
    return CsrfToken(csrf_token=ctx.csrf.token_for(browser_id, API_CSRF_PURPOSE))


@router.post(
    "/login",
    response_model=AccountSummary,
    responses=problems(401, 403, 415, 422, 429, 503),
    openapi_extra=security(BROWSER_WITH_CSRF),
)
async def login(
    body: LoginRequest, request: Request, ctx: Ctx, dispatcher: Jobs, response: Response
) -> AccountSummary:
    """Log in with a confirmed phone, a confirmed e-mail or a SNILS and the password; sets the
    SSO session cookie. A wrong login and a wrong password get the same 401."""
    _require_csrf(request, ctx)
    done = await log_in(
        ctx,
        body.login,
        body.password,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        old_cookie=cookies.read(request, cookies.SESSION, ctx.settings),
        device=cookies.read(request, cookies.DEVICE, ctx.settings),
    )
    cookies.write_sign_in(response, ctx.settings, session=done.cookie, device=done.device)
    response.headers["Cache-Control"] = "no-store"
    await dispatcher.run_now(done.replaced.jobs, wait=0)
    return summary(done.account)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(403),
    openapi_extra=security(BROWSER_WITH_CSRF),
)
async def logout(request: Request, ctx: Ctx, dispatcher: Jobs) -> Response:
    """End this browser's session and tell the session's relying parties (back-channel)."""
    _require_csrf(request, ctx)
    ended = await log_out(ctx, cookies.read(request, cookies.SESSION, ctx.settings))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    cookies.clear(response, cookies.SESSION, ctx.settings)
    await dispatcher.run_now(ended.jobs)
    return response
