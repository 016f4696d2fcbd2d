"""The authorization endpoint and the pages of an interaction (login, consent, unmet level)."""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from idp.accounts.errors import InvalidCredentials, TooManyAttempts
from idp.accounts.journey import register_url, reset_url
from idp.accounts.login.service import log_in
from idp.audit.log import record
from idp.clients.model import ClientInfo
from idp.context import Context
from idp.errors import (
    AccessDenied,
    InvalidRequest,
    OAuthError,
    PageError,
    UnmetAuthenticationRequirements,
)
from idp.http import cookies
from idp.http.deps import Ctx, client_ip
from idp.http.params import read_form, read_params
from idp.http.responses import error_redirect
from idp.http.routing import PageRouter
from idp.jobs.runner import JobRunner
from idp.oidc.authorize import interactions
from idp.oidc.authorize.decide import (
    Decision,
    Ready,
    ShowConsent,
    ShowLogin,
    ShowUnmet,
    decide,
    issue_code,
    remember_consent,
)
from idp.oidc.authorize.request import AuthorizationRequest, validate
from idp.oidc.logout.end_session import frontchannel_page
from idp.security.csrf import Csrf
from idp.security.redirect_uris import matches_registered
from idp.sessions.interactions import find as find_interaction
from idp.sessions.service import LiveSession, end_sessions, find_live_session
from idp.web.error_page import offer_way_back
from idp.web.i18n import Translator, request_locale
from idp.web.render import page
from idp.web.repost import same_site_repost

# The browser's side of the protocol: errors are a page until the redirect URI is trusted, then
# a redirect to the client (ErrorForClient), as RFC 6749 §4.1.2.1 says.
router = PageRouter()


def _locale(request: Request, ui_locales: str | None = None) -> str:
    return request_locale(request, ui_locales)


def _browser_id(request: Request, ctx: Context) -> tuple[str, bool]:
    existing = cookies.read(request, cookies.BROWSER, ctx.settings)
    if existing and 16 <= len(existing) <= 64:
        return existing, False
    return Csrf.new_browser_id(), True


def _redirect(location: str) -> RedirectResponse:
    # 303: the browser follows with GET and never re-posts credentials (RFC 9700 §4.12).
    return RedirectResponse(location, status_code=303)


@router.api_route("/authorize", methods=["GET", "POST"])
async def authorize(request: Request, ctx: Ctx) -> Response:
    # Unreadable parameters and an untrusted redirect URI are shown as a page; after that,
    # errors go to the client (ErrorForClient).
    params = await read_params(request, ctx.settings.max_param_length)
    auth_request = await validate(params, ctx.clients)
    if repost := same_site_repost(
        request, params, ctx.settings, targets=[auth_request.redirect_uri]
    ):
        return repost  # a cross-site POST came without the SSO cookie: fetch it (web/repost.py)
    client = await ctx.clients.get(auth_request.client_id)
    assert client is not None
    browser_id, new_browser = _browser_id(request, ctx)
    cookie = cookies.read(request, cookies.SESSION, ctx.settings)
    async with ctx.db.transaction() as session:
        live = await find_live_session(session, cookie, ctx.clock.now(), ctx.settings.sessions)
        decision = await decide(session, ctx, client, auth_request, live)
        if isinstance(decision, Ready):
            issued = await issue_code(session, ctx, auth_request, decision.live)
            response = _redirect(issued.location)
        else:
            interaction_id = interactions.start(session, ctx, auth_request, browser_id)
            # Absolute, as documented (Location: format uri), under the issuer's own URL.
            response = _redirect(f"{ctx.settings.issuer}/interaction/{interaction_id}")
    if new_browser:
        cookies.write(response, cookies.BROWSER, browser_id, ctx.settings, max_age=400 * 86400)
    return response


def _render_stage(
    request: Request,
    ctx: Context,
    interaction_id: str,
    browser_id: str,
    client: ClientInfo,
    auth_request: AuthorizationRequest,
    decision: Decision,
    *,
    error: str | None = None,
    status: int = 200,
    login_value: str | None = None,
    live: LiveSession | None = None,
) -> Response:
    locale = _locale(request, auth_request.ui_locales)
    common = {
        "action": f"/interaction/{interaction_id}",
        "csrf_token": ctx.csrf.token_for(browser_id, f"interaction:{interaction_id}"),
        "client_name": client.name,
    }
    if isinstance(decision, ShowConsent):
        return page(
            "consent.html",
            locale,
            status,
            scopes=auth_request.scope,
            signed_in_as=_masked_name(live),
            **common,
        )
    if isinstance(decision, ShowUnmet):
        unmet = decision.unmet
        return page(
            "unmet.html",
            locale,
            status,
            reason=unmet.reason,
            required=unmet.required,
            actual=unmet.actual or "",
            **common,
        )
    return page(
        "login.html",
        locale,
        status,
        error=error,
        login_value=login_value if login_value is not None else (auth_request.login_hint or ""),
        register_url=register_url(interaction_id),
        reset_url=reset_url(interaction_id),
        **common,
    )


def _masked_name(live: LiveSession | None) -> str:
    """Who is signed in, enough to recognise oneself and no more: "Иван П."."""
    if live is None:
        return ""
    last = live.account.last_name.strip()
    return f"{live.account.first_name} {last[:1]}." if last else live.account.first_name


_Loaded = tuple[str, AuthorizationRequest, ClientInfo, LiveSession | None, uuid.UUID | None, bool]


async def _load(request: Request, ctx: Context, interaction_id: str) -> _Loaded | None:
    browser_id = cookies.read(request, cookies.BROWSER, ctx.settings)
    async with ctx.db.read() as session:
        row = await find_interaction(
            session, ctx.clock.now(), interaction_id, browser_id, include_finished=True
        )
        if row is None:
            return None
        cookie = cookies.read(request, cookies.SESSION, ctx.settings)
        live = await find_live_session(session, cookie, ctx.clock.now(), ctx.settings.sessions)
        auth_request = interactions.loaded_request(ctx, row)
        logged_in_here = row.session_id
        finished = row.finished_at is not None
    client = await ctx.clients.get(auth_request.client_id)
    if client is None or browser_id is None:
        return None
    if not matches_registered(
        auth_request.redirect_uri, client.redirect_uris, native=client.is_public
    ):
        # The operator removed it meanwhile (`idp clients update`): no code goes there now.
        return None
    # The interaction's redirect URI was checked when it started: an error page offers it.
    offer_way_back(request, client.name, auth_request.redirect_uri)
    return browser_id, auth_request, client, live, logged_in_here, finished


async def _repeat_outcome(
    ctx: Context, interaction_id: str, auth_request: AuthorizationRequest
) -> Response:
    """The answer the interaction already gave (a double submit), or the expired page once
    repeating it would no longer help (its code was used or has expired)."""
    async with ctx.db.read() as session:
        location = await interactions.outcome(session, ctx, interaction_id)
    if location is None:
        raise PageError("error_expired", "expired", locale=auth_request.ui_locales)
    return _redirect(location)


def _just_authenticated(live: LiveSession | None, logged_in_here: uuid.UUID | None) -> bool:
    return live is not None and logged_in_here is not None and live.record.id == logged_in_here


@router.get("/interaction/{interaction_id}")
async def show_interaction(interaction_id: str, request: Request, ctx: Ctx) -> Response:
    loaded = await _load(request, ctx, interaction_id)
    if loaded is None:
        raise PageError("error_expired", "expired")
    browser_id, auth_request, client, live, logged_in_here, finished = loaded
    if finished:  # a reload, or the back button, after the interaction gave its answer
        return await _repeat_outcome(ctx, interaction_id, auth_request)
    try:
        async with ctx.db.transaction() as session:
            decision = await decide(
                session,
                ctx,
                client,
                auth_request,
                live,
                just_authenticated=_just_authenticated(live, logged_in_here),
            )
            if isinstance(decision, Ready):
                # Logged in meanwhile (another tab): nothing left to ask.
                return _redirect(
                    await interactions.finish_with_code(
                        session, ctx, interaction_id, auth_request, decision.live
                    )
                )
    except interactions.AlreadyFinished:
        return await _repeat_outcome(ctx, interaction_id, auth_request)
    return _render_stage(
        request, ctx, interaction_id, browser_id, client, auth_request, decision, live=live
    )


@router.post("/interaction/{interaction_id}")
async def submit_interaction(interaction_id: str, request: Request, ctx: Ctx) -> Response:
    loaded = await _load(request, ctx, interaction_id)
    if loaded is None:
        raise PageError("error_expired", "expired")
    browser_id, auth_request, client, live, logged_in_here, finished = loaded
    form = await read_form(request, 2048)
    purpose = f"interaction:{interaction_id}"
    if not ctx.csrf.check(browser_id, purpose, form.get("csrf_token")):
        raise PageError("csrf_failed", "csrf", 403, locale=auth_request.ui_locales)
    try:
        if finished:
            raise interactions.AlreadyFinished
        decision_value = form.get("decision")
        just = _just_authenticated(live, logged_in_here)
        if decision_value == "deny":
            return await _deny(ctx, interaction_id, auth_request, client, live, just)
        if decision_value == "switch_account":
            return await _switch_account(request, ctx, interaction_id, auth_request, live)
        if "password" in form or "login" in form:
            return await _login(
                request, ctx, interaction_id, browser_id, client, auth_request, form
            )
        if decision_value == "allow":
            return await _consent(request, ctx, interaction_id, client, auth_request, live, just)
    except interactions.AlreadyFinished:
        # A double submit: the same answer as the first, never a second code.
        return await _repeat_outcome(ctx, interaction_id, auth_request)
    raise InvalidRequest("The form is incomplete.")


async def _deny(
    ctx: Context,
    interaction_id: str,
    auth_request: AuthorizationRequest,
    client: ClientInfo,
    live: LiveSession | None,
    just: bool,
) -> Response:
    error: OAuthError = AccessDenied("The person declined.")
    async with ctx.db.transaction() as session:
        if not await interactions.hold(session, ctx, interaction_id):
            raise interactions.AlreadyFinished
        decision = await decide(session, ctx, client, auth_request, live, just_authenticated=just)
        if isinstance(decision, ShowUnmet):
            error = UnmetAuthenticationRequirements(
                "The account does not meet this client's requirements."
            )
        # The same redirect an ErrorForClient renders, kept for a second submit.
        response = error_redirect(
            auth_request.redirect_uri, error, auth_request.state, ctx.settings.issuer
        )
        await interactions.seal_outcome(
            session, ctx, interaction_id, auth_request, response.headers["location"]
        )
    return response


async def _switch_account(
    request: Request,
    ctx: Context,
    interaction_id: str,
    auth_request: AuthorizationRequest,
    live: LiveSession | None,
) -> Response:
    """The consent page's "Not you?": end this browser's SSO session (the services in it are
    logged out as on any logout) and ask the same interaction for a login again."""
    async with ctx.db.transaction() as session:
        if not await interactions.forget_login(session, interaction_id):
            raise interactions.AlreadyFinished
        ended = None
        if live is not None:
            ended = await end_sessions(
                session, ctx, [live.record], reason="switch_account", actor="person", claim=True
            )
    login = f"/interaction/{interaction_id}"
    response: Response = _redirect(login)
    if ended is not None:
        dispatcher: JobRunner = request.app.state.jobs
        await dispatcher.run_now(ended.jobs)
        if ended.frontchannel:
            locale = _locale(request, auth_request.ui_locales)
            response = frontchannel_page(ctx, locale, ended.frontchannel, login)
    cookies.clear(response, cookies.SESSION, ctx.settings)
    return response


class _InteractionGone(Exception):
    pass


async def _login(
    request: Request,
    ctx: Context,
    interaction_id: str,
    browser_id: str,
    client: ClientInfo,
    auth_request: AuthorizationRequest,
    form: dict[str, str],
) -> Response:
    t = Translator(_locale(request, auth_request.ui_locales))
    login = form.get("login", "")
    password = form.get("password", "")
    responses: list[Response] = []

    async def continue_authorization(session: AsyncSession, live: LiveSession) -> None:
        # In the login's transaction: bind the interaction to the new session and go on.
        row = await find_interaction(
            session, ctx.clock.now(), interaction_id, browser_id, include_finished=True
        )
        if row is None:
            raise _InteractionGone
        if row.finished_at is not None:
            # Another submit finished it: this login rolls back and that answer stands.
            raise interactions.AlreadyFinished
        row.session_id = live.record.id
        row.account_id = live.account.id
        responses.append(
            await _continue(
                session, ctx, interaction_id, client, auth_request, live, just_authenticated=True
            )
        )

    try:
        if not login or not password or len(password) > 1024:
            raise InvalidCredentials()
        logged_in = await log_in(
            ctx,
            login,
            password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            old_cookie=cookies.read(request, cookies.SESSION, ctx.settings),
            device=cookies.read(request, cookies.DEVICE, ctx.settings),
            via="page",
            client_id=client.client_id,
            then=continue_authorization,
        )
    except InvalidCredentials:
        return _render_stage(
            request,
            ctx,
            interaction_id,
            browser_id,
            client,
            auth_request,
            ShowLogin(),
            error=t("wrong_credentials"),
            status=400,
            login_value=login,
        )
    except TooManyAttempts as exc:
        response = _render_stage(
            request,
            ctx,
            interaction_id,
            browser_id,
            client,
            auth_request,
            ShowLogin(),
            error=t("too_many_attempts", seconds=exc.retry_after),
            status=429,
            login_value=login,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except _InteractionGone:
        raise PageError("error_expired", "expired", locale=auth_request.ui_locales) from None
    response = responses[0]
    cookies.write_sign_in(response, ctx.settings, session=logged_in.cookie, device=logged_in.device)
    dispatcher: JobRunner = request.app.state.jobs
    await dispatcher.run_now(logged_in.replaced.jobs, wait=0)
    return response


async def _continue(
    session: AsyncSession,
    ctx: Context,
    interaction_id: str,
    client: ClientInfo,
    auth_request: AuthorizationRequest,
    live: LiveSession,
    *,
    just_authenticated: bool,
    consent_given: bool = False,
    held: bool = False,
) -> Response:
    decision = await decide(
        session,
        ctx,
        client,
        auth_request,
        live,
        just_authenticated=just_authenticated,
        consent_given=consent_given,
    )
    if isinstance(decision, Ready):
        return _redirect(
            await interactions.finish_with_code(
                session, ctx, interaction_id, auth_request, decision.live, held=held
            )
        )
    return _redirect(f"/interaction/{interaction_id}")


async def _consent(
    request: Request,
    ctx: Context,
    interaction_id: str,
    client: ClientInfo,
    auth_request: AuthorizationRequest,
    live: LiveSession | None,
    just: bool,
) -> Response:
    async with ctx.db.transaction() as session:
        decision = await decide(session, ctx, client, auth_request, live, just_authenticated=just)
        if not isinstance(decision, ShowConsent | Ready):
            # Consent is only taken once the person is logged in and meets the level.
            return _redirect(f"/interaction/{interaction_id}")
        assert live is not None
        # Claimed before anything is written: a second submit waits here, then repeats ours.
        if not await interactions.hold(session, ctx, interaction_id):
            raise interactions.AlreadyFinished
        await remember_consent(session, ctx, auth_request, live)
        record(
            session,
            "consent.granted",
            at=ctx.clock.now(),
            account_id=live.account.id,
            client_id=client.client_id,
            scopes=auth_request.scope,
        )
        return await _continue(
            session,
            ctx,
            interaction_id,
            client,
            auth_request,
            live,
            just_authenticated=just,
            consent_given=True,
            held=True,
        )
