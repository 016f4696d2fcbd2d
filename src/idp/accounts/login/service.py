"""Logging in and out for first-party apps (the REST API), with the same SSO session the
login page creates: the same checks, throttling, audit record and logout fan-out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts import throttle
from idp.accounts.errors import InvalidCredentials
from idp.accounts.repository import AccountRepository
from idp.accounts.service import Verified, verify_login
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account
from idp.errors import ServerBusy
from idp.sessions.service import (
    Ended,
    LiveSession,
    begin_session,
    end_sessions,
    find_live_session,
)

# Work to do in the login's own transaction once the new session exists (the login page binds
# its interaction and issues the authorization code there, all or nothing).
Then = Callable[[AsyncSession, LiveSession], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LoggedIn:
    account: Account
    cookie: str  # the new session cookie's value
    replaced: Ended  # the browser's previous session, ended (deliver its logout jobs)
    device: str  # the device cookie to set (idp.security.devices): this browser knows the account


async def log_in(
    ctx: Context,
    login: str,
    password: str,
    *,
    ip: str | None,
    user_agent: str | None,
    old_cookie: str | None,
    device: str | None = None,
    via: str = "api",
    client_id: str | None = None,
    then: Then | None = None,
) -> LoggedIn:
    """Check the password (throttled, ``InvalidCredentials`` or ``TooManyAttempts``); renew
    the browser's session when it is this account's, else end it and start a new one; either
    way with a fresh cookie (no fixation).

    ``device`` is the browser's device cookie: a browser that logged in to this account before
    is judged by its own failure counter. The session is created only if the password hash is
    still the one verified (a reset or change committed meanwhile refuses the login)."""
    verified = await verify_login(ctx, login, password, ip, device)
    try:
        return await _start(
            ctx, verified, password, ip, user_agent, old_cookie, device, via, client_id, then
        )
    except InvalidCredentials:
        raise  # the password changed meanwhile: the attempt stays counted as a failure
    except BaseException:
        # Nothing was started (the interaction expired, the request was cancelled): give the
        # attempt back rather than count a right password as a failure.
        async with ctx.db.transaction() as session:
            await throttle.release(session, verified.reservation)
        raise


async def _start(
    ctx: Context,
    verified: Verified,
    password: str,
    ip: str | None,
    user_agent: str | None,
    old_cookie: str | None,
    device: str | None,
    via: str,
    client_id: str | None,
    then: Then | None,
) -> LoggedIn:
    account = verified.account
    # A rehash after an argon2 parameter change happens here, outside the write transaction;
    # it is only an improvement, so a busy pool skips it.
    new_hash: str | None = None
    if ctx.passwords.needs_rehash(verified.verified_hash):
        with suppress(ServerBusy):
            new_hash = await ctx.passwords.hash(password)
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        fresh = await AccountRepository(session).lock(account.id)
        if (
            fresh is None
            or fresh.status != "active"
            or fresh.password_hash != verified.verified_hash
        ):
            raise InvalidCredentials("The login or the password is wrong.")
        if new_hash is not None:
            fresh.password_hash = new_hash  # compare-and-set: compared above, under the lock
        await throttle.settle(session, verified.reservation, succeeded=True, clear=verified.cleared)
        old = await find_live_session(session, old_cookie, now, ctx.settings.sessions)
        # The same account logging in again keeps its session (new cookie, new auth_time);
        # another account's session ends with its logout fan-out.
        signed_in = await begin_session(
            session, ctx, fresh, previous=old, amr=["pwd"], user_agent=user_agent, ip=ip
        )
        record(
            session,
            "login",
            at=now,
            account_id=fresh.id,
            client_id=client_id,
            ip=ip,
            amr=["pwd"],
            via=via,
            # For the person's list of recent sign-ins (the console): a device label, never
            # the User-Agent, and the session, to show "this device".
            device=signed_in.record.user_agent,
            session_id=str(signed_in.record.id),
        )
        if then is not None:
            await session.flush()
            await then(session, LiveSession(signed_in.record, fresh))
    return LoggedIn(
        fresh, signed_in.cookie, signed_in.replaced, ctx.devices.remember(device, fresh.id)
    )


async def log_out(ctx: Context, cookie: str | None) -> Ended:
    """End the session behind the cookie, if any (logging out twice is not an error)."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        live = await find_live_session(session, cookie, now, ctx.settings.sessions)
        if live is None:
            return Ended()
        return await end_sessions(
            session, ctx, [live.record], reason="logout", actor="person", claim=True
        )
