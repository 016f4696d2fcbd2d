"""Single sign-on sessions: one server-side record per browser login."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Account, BrowserSession
from idp.security.tokens import digest, new_token
from idp.sessions.repository import SessionRepository
from idp.settings import SessionSettings

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
        user_agent=(user_agent or "")[:512] or None,
        ip=ip,
    )
    SessionRepository(db_session).add(record)
    return record, cookie


async def record_participant(
    db_session: AsyncSession, session_id: uuid.UUID, client_id: str, now: datetime
) -> None:
    await SessionRepository(db_session).add_participant(session_id, client_id, now)
