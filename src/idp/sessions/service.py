"""Single sign-on sessions: one server-side record per browser login, from start to end.

Whoever ends a session (the person, an RP, an operator, a timeout) goes through
``end_sessions``: in the caller's transaction the session is marked ended, the refresh tokens
issued in it are revoked, and one ``backchannel_logout`` job per RP with a back-channel URI is
enqueued. The job's handler (``idp.oidc.logout.backchannel``) builds and posts the logout token
after the commit, so a crash can delay a logout but never lose it.

A login starts a session with ``begin_session``: the same account logging in again in the same
browser (re-authentication) keeps its session with a new cookie and ``auth_time``; another
account's login ends the browser's session first. Codes and session-bound refresh tokens are
redeemed under ``hold_live``, so a logout racing them is never missed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.clock import Clock
from idp.db.models import Account, BrowserSession
from idp.jobs.queue import JobRef, enqueue
from idp.security.network import truncated_address
from idp.security.tokens import digest, new_token
from idp.sessions.device_label import device_label
from idp.sessions.repository import SessionRepository
from idp.settings import SessionSettings, Settings

BACKCHANNEL_LOGOUT = "backchannel_logout"  # the job kind; its handler lives in oidc.logout

_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class LiveSession:
    record: BrowserSession
    account: Account


async def find_live_session(
    db_session: AsyncSession, cookie: str | None, now: datetime, settings: SessionSettings
) -> LiveSession | None:
    """The session behind a cookie if it is neither ended, expired, nor idle too long."""
    if not cookie or len(cookie) > 128:
        return None
    found = await SessionRepository(db_session).find_live(digest(cookie), now)
    if found is None:
        return None
    record, account = found
    if record.last_seen_at + timedelta(seconds=settings.idle_ttl) <= now:
        return None
    if account.status != "active":
        return None
    return LiveSession(record, account)


async def touch_if_stale(db_session: AsyncSession, live: LiveSession, now: datetime) -> None:
    # Idle tracking costs a write; once a minute is precise enough for a one-hour idle limit.
    if now - live.record.last_seen_at >= _TOUCH_EVERY:
        await SessionRepository(db_session).touch(live.record.id, now)


def start_session(
    db_session: AsyncSession,
    account: Account,
    *,
    amr: list[str],
    now: datetime,
    settings: SessionSettings,
    user_agent: str | None,
    ip: str | None,
) -> tuple[BrowserSession, str]:
    """A new session and the cookie value for it (a fresh value on every login: no fixation)."""
    cookie = new_token(32)
    record = BrowserSession(
        id=uuid.uuid4(),
        token_hash=digest(cookie),
        sid=new_token(18),
        account_id=account.id,
        auth_time=now,
        amr=amr,
        acr=account.level,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.absolute_ttl),
        user_agent=device_label(user_agent),
        ip=truncated_address(ip),
    )
    SessionRepository(db_session).add(record)
    return record, cookie


async def renew_session(
    db_session: AsyncSession,
    live: LiveSession,
    *,
    amr: list[str],
    now: datetime,
    settings: SessionSettings,
    keep_auth_time: bool = False,
) -> tuple[BrowserSession, str] | None:
    """Re-authentication of the session's own account (``prompt=login``, ``max_age``): the
    same session (``sid``, participants, their grants) with a new cookie value (no fixation)
    and a new ``auth_time``; both limits restart. None if the session ended meanwhile.

    ``keep_auth_time``: a new cookie for a change that is no login (the account's level rose
    while the session was open): ``auth_time`` and the absolute limit stay, as OIDC
    ``max_age`` counts from the person's last login; only the idle limit restarts."""
    cookie = new_token(32)
    record = live.record
    renewed = await SessionRepository(db_session).renew(
        record.id,
        token_hash=digest(cookie),
        auth_time=record.auth_time if keep_auth_time else now,
        amr=amr,
        acr=live.account.level,
        expires_at=(
            record.expires_at if keep_auth_time else now + timedelta(seconds=settings.absolute_ttl)
        ),
        seen_at=now,
    )
    if not renewed:
        return None
    await db_session.refresh(record)
    return record, cookie


async def hold_live(
    db_session: AsyncSession,
    session_id: uuid.UUID | None,
    now: datetime,
    settings: SessionSettings,
    *,
    touch: bool = False,
) -> bool:
    """Whether the session is live, holding its row until the caller commits so that a logout
    cannot end it unseen (what a code or a session-bound refresh token needs)."""
    if session_id is None:
        return False
    return await SessionRepository(db_session).hold_live(
        session_id, now, settings.idle_ttl, touch=touch
    )


async def revoke_offline_access(
    db_session: AsyncSession, account_id: uuid.UUID, now: datetime, *, reason: str
) -> int:
    """Revoke every grant of the account that holds ``offline_access`` (OIDC Core §11): they
    outlive sessions, so a credential change (password change or reset, an operator ending
    every session) must end them itself. Returns how many were revoked."""
    return await SessionRepository(db_session).revoke_offline_grants(account_id, now, reason)


async def record_participant(
    db_session: AsyncSession, session_id: uuid.UUID, client_id: str, now: datetime
) -> None:
    await SessionRepository(db_session).add_participant(session_id, client_id, now)


# --- ending sessions ---------------------------------------------------------------------------


class Deps(Protocol):
    """What ending sessions needs of the app's context."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...


@dataclass(frozen=True, slots=True)
class FrontChannelTarget:
    client_id: str
    uri: str
    session_required: bool
    sid: str


@dataclass(slots=True)
class Ended:
    """What ending some sessions produced: back-channel jobs to run and iframes to render."""

    session_ids: list[uuid.UUID] = field(default_factory=list)
    jobs: list[JobRef] = field(default_factory=list)
    frontchannel: list[FrontChannelTarget] = field(default_factory=list)


async def end_sessions(
    session: AsyncSession,
    ctx: Deps,
    records: list[BrowserSession],
    *,
    reason: str,
    actor: str,
    claim: bool,
) -> Ended:
    """End ``records`` (those still live), in the caller's transaction. With ``claim`` the
    back-channel jobs are leased to the caller, who runs them after the commit with
    ``JobRunner.run_now(ended.jobs)``; otherwise a worker picks them up."""
    now = ctx.clock.now()
    repo = SessionRepository(session)
    ended = Ended()
    for live in records:
        # The guarded update makes ending idempotent and race-free: only one caller wins.
        if await repo.mark_ended(live.id, now, reason):
            ended.session_ids.append(live.id)
    if not ended.session_ids:
        return ended
    logout = ctx.settings.logout
    # Offline access is meant to outlive the login session (OIDC Core §11).
    await repo.revoke_grants(
        ended.session_ids, now, keep_offline_access=not logout.revoke_offline_access
    )
    for row in await repo.participants(ended.session_ids):
        if row.backchannel_logout_uri:
            # One jti and iat per RP and logout: a retry re-sends the same token while it is
            # valid, so the RP can recognise it (Back-Channel Logout 1.0 §2.6).
            payload = {
                "client_id": row.client_id,
                "uri": row.backchannel_logout_uri,
                "sub": row.sub,
                "sid": row.sid,
                "alg": row.id_token_signed_response_alg,
                "jti": new_token(16),
                "iat": int(now.timestamp()),
            }
            ended.jobs.append(
                enqueue(
                    session,
                    BACKCHANNEL_LOGOUT,
                    payload,
                    deadline_in=logout.retry_period,
                    ref=row.client_id,
                    lease=logout.lease if claim else None,
                )
            )
        if row.frontchannel_logout_uri:
            ended.frontchannel.append(
                FrontChannelTarget(
                    row.client_id,
                    row.frontchannel_logout_uri,
                    row.frontchannel_logout_session_required,
                    row.sid,
                )
            )
    for live in records:
        if live.id in ended.session_ids:
            record(
                session,
                "session.ended",
                at=now,
                actor=actor,
                account_id=live.account_id,
                reason=reason,
                session_id=str(live.id),
                notified=len(ended.jobs),
            )
    return ended


@dataclass(frozen=True, slots=True)
class SignedIn:
    record: BrowserSession
    cookie: str
    replaced: Ended  # the browser's previous session when it was another account's


async def begin_session(
    db_session: AsyncSession,
    ctx: Deps,
    account: Account,
    *,
    previous: LiveSession | None,
    amr: list[str],
    user_agent: str | None,
    ip: str | None,
) -> SignedIn:
    """After a successful login: the browser's session renewed when it is this account's
    (nobody is logged out), else the previous one ended with its logout fan-out (its back-
    channel jobs are claimed for the caller) and a new one started."""
    now = ctx.clock.now()
    settings = ctx.settings.sessions
    if previous is not None and previous.account.id == account.id:
        renewed = await renew_session(db_session, previous, amr=amr, now=now, settings=settings)
        if renewed is not None:
            return SignedIn(renewed[0], renewed[1], Ended())
    replaced = await end_sessions(
        db_session,
        ctx,
        [previous.record] if previous else [],
        reason="replaced",
        actor="person",
        claim=True,
    )
    record, cookie = start_session(
        db_session, account, amr=amr, now=now, settings=settings, user_agent=user_agent, ip=ip
    )
    return SignedIn(record, cookie, replaced)


async def live_sessions_of(
    session: AsyncSession, account_id: uuid.UUID, now: datetime, idle_ttl: int
) -> list[BrowserSession]:
    return await SessionRepository(session).live_of(account_id, now, idle_ttl)


async def signed_in_services(session: AsyncSession, session_id: uuid.UUID) -> list[str]:
    """The services (client names) this browser session signed in to: what a logout ends."""
    return await SessionRepository(session).service_names(session_id)


async def expired_sessions(
    session: AsyncSession, now: datetime, idle_ttl: int, limit: int
) -> list[BrowserSession]:
    return await SessionRepository(session).expired(now, idle_ttl, limit)


async def end_expired(session: AsyncSession, ctx: Deps, *, limit: int = 500) -> Ended:
    """End sessions that ran out (idle or absolute) with the same fan-out as a logout."""
    expired = await expired_sessions(
        session, ctx.clock.now(), ctx.settings.sessions.idle_ttl, limit
    )
    return await end_sessions(session, ctx, expired, reason="expired", actor="system", claim=False)
