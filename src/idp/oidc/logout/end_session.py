"""RP-Initiated Logout 1.0 (the ``end_session_endpoint``) and the front-channel logout page
(Front-Channel Logout 1.0 §4).

The request is trusted when it carries a valid ``id_token_hint`` for the current session; then
the person is logged out at once. Otherwise the person is asked first (RP-Initiated Logout §2,
ASVS 10.6.2: a link must not log anyone out). A redirect back to the RP needs a
``post_logout_redirect_uri`` registered for that exact client, and either a valid hint or the
person's own confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from idp.clients.model import ClientInfo
from idp.context import Context
from idp.errors import InvalidRequest, PageError
from idp.http import cookies
from idp.http.deps import Ctx
from idp.http.params import read_params, refuse_control_characters
from idp.http.routing import PageRouter
from idp.jobs.deps import Jobs
from idp.jobs.runner import JobRunner
from idp.oidc.tokens import ID_TOKEN_TYP
from idp.security.csrf import Csrf
from idp.security.redirect_uris import with_params
from idp.sessions.service import (
    Ended,
    FrontChannelTarget,
    LiveSession,
    end_sessions,
    find_live_session,
    signed_in_services,
)
from idp.web.error_page import offer_way_back
from idp.web.i18n import Translator, request_locale
from idp.web.render import page
from idp.web.repost import same_site_repost

router = PageRouter()
CONFIRM_PURPOSE = "logout"


class BadLogoutRequest(InvalidRequest):
    """Shown as a page: a logout request is never answered by a redirect it cannot trust."""


@dataclass(slots=True)
class LogoutRequest:
    client: ClientInfo | None
    hint: dict[str, Any] | None
    redirect_uri: str | None
    state: str | None
    ui_locales: str | None


async def _parse(ctx: Context, params: dict[str, str]) -> LogoutRequest:
    refuse_control_characters(params, BadLogoutRequest)  # state is echoed to the client
    hint = None
    client: ClientInfo | None = None
    raw_hint = params.get("id_token_hint")
    if raw_hint:
        # An expired ID token is still a good hint (RP-Initiated Logout §2).
        hint = await ctx.signer.verify(
            raw_hint, typ=ID_TOKEN_TYP, verify_exp=False, issuer=ctx.settings.issuer
        )
        if hint is None or not isinstance(hint.get("aud"), str | list):
            raise BadLogoutRequest("The id_token_hint was not issued by this service.")
        audiences = hint["aud"] if isinstance(hint["aud"], list) else [hint["aud"]]
        client_id = hint.get("azp") or audiences[0]
        if params.get("client_id") not in (None, client_id) or client_id not in audiences:
            raise BadLogoutRequest("client_id does not match the id_token_hint.")
        client = await ctx.clients.get(str(client_id))
        if client is None:
            raise BadLogoutRequest("The id_token_hint names an unknown client.")
    elif "client_id" in params:
        client = await ctx.clients.get(params["client_id"])
        if client is None:
            raise BadLogoutRequest("Unknown client_id.")
    redirect_uri = params.get("post_logout_redirect_uri")
    # Exact match with this client's registration, or no redirect at all (no open redirect).
    if redirect_uri is not None and (
        client is None or redirect_uri not in client.post_logout_redirect_uris
    ):
        raise BadLogoutRequest("post_logout_redirect_uri is not registered for this client.")
    return LogoutRequest(client, hint, redirect_uri, params.get("state"), params.get("ui_locales"))


def _hint_matches(hint: dict[str, Any] | None, live: LiveSession) -> bool:
    if hint is None:
        return False
    if hint.get("sid") is not None:
        return bool(hint["sid"] == live.record.sid)
    return bool(hint.get("sub") == live.account.sub)


def _locale(request: Request, ui_locales: str | None) -> str:
    return request_locale(request, ui_locales)


@router.api_route("/logout", methods=["GET", "POST"])
async def end_session(request: Request, ctx: Ctx, dispatcher: Jobs) -> Response:
    params = await read_params(request, ctx.settings.max_param_length)
    logout = await _parse(ctx, params)
    if repost := same_site_repost(request, params, ctx.settings, targets=[logout.redirect_uri]):
        return repost  # a cross-site POST came without the SSO cookie: fetch it (web/repost.py)
    cookie = cookies.read(request, cookies.SESSION, ctx.settings)
    async with ctx.db.read() as session:
        live = await find_live_session(session, cookie, ctx.clock.now(), ctx.settings.sessions)
        services = await signed_in_services(session, live.record.id) if live else []
    if live is None:
        # Already logged out: logout is idempotent, go where the RP asked (if trusted).
        return _finish(request, ctx, logout, Ended(), trusted=logout.hint is not None)
    if _hint_matches(logout.hint, live):
        return await _log_out(request, ctx, dispatcher, live, logout, trusted=True)
    return _confirm_page(request, ctx, logout, services)


def _confirm_page(
    request: Request, ctx: Context, logout: LogoutRequest, services: list[str]
) -> Response:
    """Asks first, naming every service the person will be signed out of."""
    browser_id = cookies.read(request, cookies.BROWSER, ctx.settings) or Csrf.new_browser_id()
    hidden = {
        "client_id": logout.client.client_id if logout.client else None,
        "post_logout_redirect_uri": logout.redirect_uri,
        "state": logout.state,
        "ui_locales": logout.ui_locales,
    }
    response = page(
        "logout_confirm.html",
        _locale(request, logout.ui_locales),
        csrf_token=ctx.csrf.token_for(browser_id, CONFIRM_PURPOSE),
        hidden={k: v for k, v in hidden.items() if v is not None},
        services=services,
    )
    if cookies.read(request, cookies.BROWSER, ctx.settings) is None:
        cookies.write(response, cookies.BROWSER, browser_id, ctx.settings, max_age=400 * 86400)
    return response


@router.post("/logout/confirm")
async def confirm(request: Request, ctx: Ctx, dispatcher: Jobs) -> Response:
    params = await read_params(request, ctx.settings.max_param_length)
    csrf_token = params.pop("csrf_token", None)
    decision = params.pop("decision", None)
    logout = await _parse(ctx, {k: v for k, v in params.items() if k != "id_token_hint"})
    browser_id = cookies.read(request, cookies.BROWSER, ctx.settings)
    if logout.client is not None and logout.redirect_uri is not None:
        offer_way_back(request, logout.client.name, logout.redirect_uri)  # registered: trusted
    if not ctx.csrf.check(browser_id, CONFIRM_PURPOSE, csrf_token):
        raise PageError("csrf_failed", "csrf", 403, locale=logout.ui_locales)
    t = Translator(_locale(request, logout.ui_locales))
    if decision != "allow":
        return page(
            "message.html", t.locale, title=t("logout_stayed_title"), text=t("logout_stayed_text")
        )
    cookie = cookies.read(request, cookies.SESSION, ctx.settings)
    async with ctx.db.read() as session:
        live = await find_live_session(session, cookie, ctx.clock.now(), ctx.settings.sessions)
    if live is None:
        return _finish(request, ctx, logout, Ended(), trusted=True)
    # The person confirmed: the registered redirect of the named client may be followed.
    return await _log_out(request, ctx, dispatcher, live, logout, trusted=True)


async def _log_out(
    request: Request,
    ctx: Context,
    dispatcher: JobRunner,
    live: LiveSession,
    logout: LogoutRequest,
    *,
    trusted: bool,
) -> Response:
    async with ctx.db.transaction() as session:
        ended = await end_sessions(
            session, ctx, [live.record], reason="logout", actor="person", claim=True
        )
    # RPs are told before the person is sent on, but a slow RP can delay that by at most
    # the inline wait; the rest is finished in the background and retried by a worker.
    await dispatcher.run_now(ended.jobs)
    response = _finish(request, ctx, logout, ended, trusted=trusted)
    cookies.clear(response, cookies.SESSION, ctx.settings)
    return response


def _destination(ctx: Context, logout: LogoutRequest, trusted: bool) -> str | None:
    if logout.redirect_uri is None or not trusted:
        return None
    return with_params(logout.redirect_uri, {"state": logout.state})


def frontchannel_src(target: FrontChannelTarget, issuer: str) -> str:
    if not target.session_required:
        return target.uri
    separator = "&" if urlsplit(target.uri).query else "?"
    return target.uri + separator + urlencode({"iss": issuer, "sid": target.sid})


def frontchannel_page(
    ctx: Context, locale: str, targets: list[FrontChannelTarget], destination: str
) -> Response:
    """The page that loads each RP's front-channel logout URI in an iframe, then moves on."""
    frames = [frontchannel_src(target, ctx.settings.issuer) for target in targets]
    origins = sorted({"{0.scheme}://{0.netloc}".format(urlsplit(src)) for src in frames})
    response = page(
        "logout_frontchannel.html",
        locale,
        frames=frames,
        destination=destination,
        wait=ctx.settings.logout.frontchannel_wait,
        switcher=False,  # it moves on by itself
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; frame-src "
        + " ".join(origins)
        + "; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


def _finish(
    request: Request, ctx: Context, logout: LogoutRequest, ended: Ended, *, trusted: bool
) -> Response:
    destination = _destination(ctx, logout, trusted)
    locale = _locale(request, logout.ui_locales)
    if ended.frontchannel:
        return frontchannel_page(ctx, locale, ended.frontchannel, destination or "/logout/done")
    if destination is not None:
        return RedirectResponse(destination, status_code=303)
    return page(
        "message.html",
        locale,
        title=Translator(locale)("logged_out_title"),
        text=Translator(locale)("logged_out_text"),
        console_link=True,
    )


@router.get("/logout/done")
async def logged_out(request: Request) -> Response:
    locale = _locale(request, None)
    t = Translator(locale)
    return page(
        "message.html",
        locale,
        title=t("logged_out_title"),
        text=t("logged_out_text"),
        console_link=True,
    )
