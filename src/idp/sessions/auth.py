"""Who is calling the REST API: the SSO session cookie (with a CSRF header on unsafe methods),
or, for the person's own account endpoints, a Bearer access token of a first-party client.

The CSRF token for the portal's front end comes from ``GET /api/v1/me/csrf`` (or, before
logging in, ``GET /api/v1/csrf``); it is bound to the browser cookie, so another site can
neither read nor forge it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

from idp.context import Context
from idp.db.models import Account, BrowserSession, Grant
from idp.errors import CsrfFailed, ProblemError
from idp.http import cookies
from idp.http.deps import get_context
from idp.keys.access_tokens import check_access_token
from idp.sessions.service import LiveSession, find_live_session, touch_if_stale

API_CSRF_PURPOSE = "api"
STALE_AFTER = timedelta(seconds=60)  # as touch_if_stale: one write a minute at most
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


# --- the person's own endpoints: the session cookie, or a first-party Bearer token ---------


class InvalidBearerToken(NotAuthenticated):
    type_slug = "invalid-token"
    title = "The access token is invalid, expired or revoked"
    # RFC 6750 §3: a 401 to a Bearer request carries the challenge.
    www_authenticate = 'Bearer realm="idp", error="invalid_token"'


class NotFirstParty(ProblemError):
    status_code = 403
    type_slug = "not-first-party"
    title = "This client may not use the account API"
    www_authenticate = 'Bearer realm="idp", error="insufficient_scope"'


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls an account endpoint and the SSO session they act in: the cookie's, or the
    one the token's grant was issued in (None for a grant without one)."""

    account: Account
    session_id: uuid.UUID | None
    client_id: str | None
    auth_time: datetime | None = None  # when that session's person last entered a password


async def _bearer_caller(ctx: Context, header: str) -> Caller:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidBearerToken("Use the Bearer scheme, or the session cookie.")
    active = await check_access_token(
        token, signer=ctx.signer, db=ctx.db, issuer=ctx.settings.issuer
    )
    if active is None:
        raise InvalidBearerToken("The access token is invalid, expired or revoked.")
    client_id = active.claims.get("client_id")
    scopes = str(active.claims.get("scope", "")).split()
    if client_id not in ctx.settings.first_party_clients:
        raise NotFirstParty("Only the portal's own apps may use this API with a token.")
    if active.account is None or "openid" not in scopes:
        raise NotFirstParty("The token must be issued to a person with the openid scope.")
    grant_id = active.claims.get("gid")
    async with ctx.db.read() as session:
        grant = await session.get(Grant, uuid.UUID(str(grant_id))) if grant_id else None
        browser = (
            await session.get(BrowserSession, grant.session_id)
            if grant is not None and grant.session_id is not None
            else None
        )
    return Caller(
        active.account,
        grant.session_id if grant else None,
        str(client_id),
        browser.auth_time if browser is not None else None,
    )


# The routes declare who may call them for the OpenAPI document (``idp.http.openapi``:
# sessionCookie with csrfToken on unsafe methods, or firstPartyBearer).
async def current_caller(request: Request) -> Caller:
    """A Bearer token of a first-party client (no CSRF: no cookie is involved), else the
    session cookie with the CSRF header on unsafe methods."""
    header = request.headers.get("authorization")
    if header is not None:
        return await _bearer_caller(get_context(request), header)
    live = await current_session(request)
    ctx = get_context(request)
    if ctx.clock.now() - live.record.last_seen_at >= STALE_AFTER:
        # Using the API is activity: the idle timeout counts from the last call.
        async with ctx.db.transaction() as session:
            await touch_if_stale(session, live, ctx.clock.now())
    return Caller(live.account, live.record.id, None, live.record.auth_time)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


# --- a sensitive change: the login behind the call must be recent ------------------------------


class ReauthenticationRequired(ProblemError):
    """The login behind the call is older than a sensitive change allows (ASVS 5.0 7.5.1): the
    console asks for the password again; an API caller logs in again (``POST /api/v1/login``
    with the cookie, or ``prompt=login``/``max_age`` for a first-party app's token)."""

    status_code = 403
    type_slug = "reauthentication-required"
    title = "Log in again first"

    def __init__(self, description: str, *, max_age: int, bearer: bool) -> None:
        super().__init__(description, max_age=max_age)
        if bearer:
            # RFC 9470 §3: the step-up challenge names the login age the resource accepts.
            self.www_authenticate = (
                f'Bearer realm="idp", error="insufficient_user_authentication", max_age="{max_age}"'
            )


async def recent_caller(request: Request) -> Caller:
    """``current_caller`` whose login is at most ``console.reauth_within`` seconds old: what
    changing a contact over the API needs, as on the console's pages (so that a stolen session
    cookie or token cannot add an address and reset the password through it)."""
    caller = await current_caller(request)
    ctx = get_context(request)
    within = ctx.settings.console.reauth_within
    if caller.auth_time is None or ctx.clock.now() - caller.auth_time > timedelta(seconds=within):
        raise ReauthenticationRequired(
            "The login is too old for this change; log in again.",
            max_age=within,
            bearer=caller.client_id is not None,
        )
    return caller


RecentCaller = Annotated[Caller, Depends(recent_caller)]
