"""The account console's use cases: what the signed-in person sees of their account, and the
changes they make there that no other domain owns (ending their sessions, re-authenticating).

The console is a view over the same services as the REST API (contacts, password change,
sessions, consents); it adds no rules of its own beyond re-authentication: a password or
contact change needs a login at most ``console.reauth_within`` seconds old (ASVS 5.0 7.5.1).
Functions take the caller's session and never commit (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts import throttle
from idp.accounts.passwords.change import reserve_attempt
from idp.accounts.repository import AccountRepository
from idp.assurance.policy import Level
from idp.audit.log import record
from idp.console.repository import ConsoleRepository
from idp.context import Context
from idp.db.models import BrowserSession
from idp.errors import NotFound
from idp.sessions.service import (
    Ended,
    LiveSession,
    end_sessions,
    hold_live,
    live_sessions_of,
    renew_session,
)

TOUCH_EVERY = timedelta(seconds=60)  # as sessions.touch_if_stale: one write a minute at most


class NoSuchSession(NotFound):
    type_slug = "no-such-session"
    title = "No such active session"


# --- the level ---------------------------------------------------------------------------------


def next_level(level: str) -> Level | None:
    """The level above the account's, None at the top."""
    ranked = sorted(Level, key=lambda lvl: lvl.rank)
    current = Level(level)
    higher = [lvl for lvl in ranked if lvl.rank > current.rank]
    return higher[0] if higher else None


# --- re-authentication -------------------------------------------------------------------------


def reauth_needed(live: LiveSession, now: datetime, within: int) -> bool:
    """Whether the session's last login is older than a sensitive change allows."""
    return now - live.record.auth_time > timedelta(seconds=within)


async def reserve_reauth(
    session: AsyncSession, ctx: Context, account_id: uuid.UUID, now: datetime
) -> throttle.Reservation:
    """Count the attempt before argon2 runs, on the same per-account counter as a password
    change: a stolen session cannot guess the password through either page faster."""
    return await reserve_attempt(session, ctx, account_id, now)


def record_reauth_failure(
    session: AsyncSession, now: datetime, account_id: uuid.UUID, ip: str | None
) -> None:
    record(
        session, "reauth", at=now, outcome="failure", actor="person", account_id=account_id, ip=ip
    )


async def renew_after_reauth(
    session: AsyncSession,
    ctx: Context,
    session_id: uuid.UUID,
    account_id: uuid.UUID,
    reservation: throttle.Reservation,
    *,
    verified_hash: str | None,
    ip: str | None,
) -> str | None:
    """The password was right: the same session with a new cookie and ``auth_time`` (the
    cookie value returned; None when the session ended, or the password changed, meanwhile).

    ``session_id`` is the session the request's cookie named when it began, not the cookie
    looked up again: a second re-authentication of the same browser racing this one (a double
    click) has rotated the cookie meanwhile, and must not log the person out."""
    now = ctx.clock.now()
    account = await AccountRepository(session).lock(account_id)
    if account is None or account.status != "active" or account.password_hash != verified_hash:
        return None
    held = None
    if await hold_live(session, session_id, now, ctx.settings.sessions):
        held = await session.get(BrowserSession, session_id, populate_existing=True)
    renewed = None
    if held is not None and held.account_id == account_id:
        renewed = await renew_session(
            session,
            LiveSession(held, account),
            amr=["pwd"],
            now=now,
            settings=ctx.settings.sessions,
        )
    # The password was right: the attempt is not a failure, whether or not the session lived.
    await throttle.settle(session, reservation, succeeded=True)
    if renewed is None:
        return None
    record(session, "reauth", at=now, actor="person", account_id=account_id, ip=ip)
    return renewed[1]


# --- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteRef:
    client_id: str
    name: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    record: BrowserSession
    current: bool
    sites: list[SiteRef] = field(default_factory=list)


async def sessions_of(session: AsyncSession, ctx: Context, live: LiveSession) -> list[SessionRow]:
    """The person's live sessions (this one first) with the sites each signed in to."""
    records = await live_sessions_of(
        session, live.account.id, ctx.clock.now(), ctx.settings.sessions.idle_ttl
    )
    sites: dict[uuid.UUID, list[SiteRef]] = {}
    for session_id, client_id, name in await ConsoleRepository(session).clients_of(
        [r.id for r in records]
    ):
        sites.setdefault(session_id, []).append(SiteRef(client_id, name))
    rows = [SessionRow(r, r.id == live.record.id, sites.get(r.id, [])) for r in records]
    return sorted(rows, key=lambda row: not row.current)


async def end_own_session(
    session: AsyncSession, ctx: Context, account_id: uuid.UUID, session_id: uuid.UUID
) -> Ended:
    """End one of the person's sessions with the logout fan-out (its back-channel jobs
    claimed for the caller to run after the commit). ``NoSuchSession`` for another account's
    session, an ended one, or one that another request ended first."""
    found = await ConsoleRepository(session).own_open_session(account_id, session_id)
    if found is None:
        raise NoSuchSession("No such active session.")
    ended = await end_sessions(
        session, ctx, [found], reason="ended_by_person", actor="person", claim=True
    )
    if not ended.session_ids:
        raise NoSuchSession("No such active session.")
    return ended


async def end_all_sessions(
    session: AsyncSession, ctx: Context, live: LiveSession, *, keep_current: bool
) -> Ended:
    records = await live_sessions_of(
        session, live.account.id, ctx.clock.now(), ctx.settings.sessions.idle_ttl
    )
    if keep_current:
        records = [r for r in records if r.id != live.record.id]
    return await end_sessions(
        session, ctx, records, reason="ended_by_person", actor="person", claim=True
    )


# --- recent sign-ins ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignIn:
    at: datetime
    device: str | None
    network: str | None  # the address truncated when it was recorded (IPv4 /24, IPv6 /48)
    this_session: bool
    via: str | None


async def sign_ins(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    current_session: uuid.UUID | None,
) -> list[SignIn]:
    """The account's latest successful logins, newest first; nothing but what the person's
    own logins left: time, device label, network, whether it is this session."""
    events = await ConsoleRepository(session).sign_ins(
        account_id, ctx.settings.console.sign_ins_shown
    )
    shown: list[SignIn] = []
    for event in events:
        details = event.details or {}
        device = details.get("device")
        via = details.get("via")
        shown.append(
            SignIn(
                at=event.at,
                device=device if isinstance(device, str) else None,
                network=event.ip,
                this_session=current_session is not None
                and details.get("session_id") == str(current_session),
                via=via if isinstance(via, str) else None,
            )
        )
    return shown
