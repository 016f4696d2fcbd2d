"""What the console's pages share: who is signed in, where a login or re-authentication
returns to, the page frame, and the multi-transaction sequences a page runs (the pages open
the transactions; see "The unit of work" in docs/architecture.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from idp.accounts import throttle
from idp.console import service as console
from idp.context import Context
from idp.http import cookies
from idp.sessions.service import LiveSession, find_live_session, touch_if_stale
from idp.web.forms import POLICY, browser_id, redirect, remember_browser
from idp.web.render import page

CSRF_PURPOSE = "console"
HOME = "/account"
# A login or a re-authentication returns only to a console page: a same-origin path, never a
# URL, so the ``return`` parameter can never be made an open redirect.
_RETURN = re.compile(r"/account(/[a-z-]+)?")

SECTIONS = (
    ("overview", "/account"),
    ("contacts", "/account/contacts"),
    ("my_data", "/account/personal-data"),
    ("password", "/account/password"),
    ("sessions", "/account/sessions"),
    ("consents", "/account/consents"),
    ("sign_ins", "/account/sign-ins"),
)


def safe_return(value: str | None) -> str:
    return value if value and _RETURN.fullmatch(value) else HOME


def login_url(back: str) -> str:
    return "/account/login?" + urlencode({"return": safe_return(back)})


def reauth_url(back: str) -> str:
    return "/account/reauth?" + urlencode({"return": safe_return(back)})


async def signed_in(request: Request, ctx: Context) -> LiveSession | None:
    """The live session behind the SSO cookie; using the console counts as activity."""
    cookie = cookies.read(request, cookies.SESSION, ctx.settings)
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        live = await find_live_session(session, cookie, now, ctx.settings.sessions)
    if live is not None and now - live.record.last_seen_at >= console.TOUCH_EVERY:
        async with ctx.db.transaction() as session:
            await touch_if_stale(session, live, now)
    return live


def needs_reauth(ctx: Context, live: LiveSession) -> bool:
    return console.reauth_needed(live, ctx.clock.now(), ctx.settings.console.reauth_within)


async def fresh(request: Request, ctx: Context, back: str) -> LiveSession | Response:
    """The live session if its login is recent enough to see or change personal data, the
    password or contacts; else where to go (the login, or the re-authentication)."""
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url(back))
    if needs_reauth(ctx, live):
        return redirect(reauth_url(back))
    return live


def console_page(
    request: Request,
    ctx: Context,
    template: str,
    locale: str,
    *,
    section: str | None,
    live: LiveSession | None,
    status: int = 200,
    **context: object,
) -> Response:
    """A console page: the navigation, this browser's CSRF token for every form on it."""
    browser, new = browser_id(request, ctx)
    response = page(
        f"console/{template}",
        locale,
        status,
        sections=SECTIONS,
        section=section,
        person=live.account if live else None,
        csrf_token=ctx.csrf.token_for(browser, CSRF_PURPOSE),
        **context,
    )
    response.headers["Content-Security-Policy"] = POLICY  # posts only to itself
    return remember_browser(response, ctx, browser, new)


def done(path: str, what: str) -> Response:
    """303 to a console page that confirms what was done (a reload posts nothing twice)."""
    return redirect(f"{path}?{urlencode({'done': what})}")


# --- sequences of transactions --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reauthenticated:
    cookie: str | None  # the renewed session's cookie; None: the session ended meanwhile
    wrong: bool = False


async def reauthenticate(
    ctx: Context, live: LiveSession, password: str, ip: str | None
) -> Reauthenticated:
    """Check the person's password again (throttled per account, argon2 with no transaction
    open) and renew the session's ``auth_time``; a wrong password is recorded on its own."""
    account_id = live.account.id
    verified_hash = live.account.password_hash
    async with ctx.db.transaction() as session:
        reservation = await console.reserve_reauth(session, ctx, account_id, ctx.clock.now())
    try:
        right = await ctx.passwords.verify(verified_hash, password)
    except BaseException:
        async with ctx.db.transaction() as session:
            await throttle.release(session, reservation)
        raise
    if not right:
        async with ctx.db.transaction() as session:  # the attempt stays counted as a failure
            console.record_reauth_failure(session, ctx.clock.now(), account_id, ip)
        return Reauthenticated(None, wrong=True)
    async with ctx.db.transaction() as session:
        renewed = await console.renew_after_reauth(
            session,
            ctx,
            live.record.id,
            account_id,
            reservation,
            verified_hash=verified_hash,
            ip=ip,
        )
    return Reauthenticated(renewed)
