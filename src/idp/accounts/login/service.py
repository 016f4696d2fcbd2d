"""Logging in and out for first-party apps (the REST API), with the same SSO session the
login page creates: the same checks, throttling, audit record and logout fan-out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts.errors import InvalidCredentials
from idp.accounts.repository import AccountRepository
from idp.accounts.service import after_successful_login, authenticate
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account
from idp.sessions.service import Ended, LiveSession, end_sessions, find_live_session, start_session

# Work to do in the login's own transaction once the new session exists (the login page binds
# its interaction and issues the authorization code there, all or nothing).
Then = Callable[[AsyncSession, LiveSession], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LoggedIn:
    account: Account
    cookie: str  # the new session cookie's value
    replaced: Ended  # the browser's previous session, ended (deliver its logout jobs)


async def log_in(
    ctx: Context,
    login: str,
    password: str,
    *,
    ip: str | None,
    user_agent: str | None,
    old_cookie: str | None,
    via: str = "api",
    client_id: str | None = None,
    then: Then | None = None,
) -> LoggedIn:
    """Check the password (throttled, ``InvalidCredentials`` or ``TooManyAttempts``), end the
    browser's previous session and start a new one with a fresh cookie (no fixation)."""
    account = await authenticate(ctx, login, password, ip)
    # A rehash after an argon2 parameter change happens here, outside the write transaction.
    new_hash = (
        await ctx.passwords.hash(password)
        if account.password_hash and ctx.passwords.needs_rehash(account.password_hash)
        else None
    )
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        fresh = await AccountRepository(session).get(account.id)
        if fresh is None or fresh.status != "active":
            raise InvalidCredentials("The login or the password is wrong.")
        if new_hash is not None and fresh.password_hash == account.password_hash:
            fresh.password_hash = new_hash
        old = await find_live_session(session, old_cookie, now, ctx.settings.sessions)
        replaced = await end_sessions(
            session,
            ctx,
            [old.record] if old else [],
            reason="replaced",
            actor="person",
            claim=True,
        )
        new_session, cookie = start_session(
            session,
            fresh,
            amr=["pwd"],
            now=now,
            settings=ctx.settings.sessions,
            user_agent=user_agent,
            ip=ip,
        )
        await after_successful_login(session, ctx, fresh, login, password)
        record(
            session,
            "login",
            at=now,
            account_id=fresh.id,
            client_id=client_id,
            ip=ip,
            amr=["pwd"],
            via=via,
        )
        if then is not None:
            await session.flush()
            await then(session, LiveSession(new_session, fresh))
    return LoggedIn(fresh, cookie, replaced)


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
