"""Ending sessions, and telling every relying party of the session about it.

Whoever ends a session (the person, an RP, an operator, a timeout) goes through
``end_sessions``: in one transaction the session is marked ended, the refresh tokens issued in
it are revoked, and one outbox row per back-channel RP is written. Delivery happens after the
commit, so a crash can delay a logout but never lose it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, BrowserSession, Client, Grant, SessionClient
from idp.oidc.logout import outbox
from idp.oidc.logout.outbox import Job


@dataclass(frozen=True, slots=True)
class FrontChannelTarget:
    client_id: str
    uri: str
    session_required: bool
    sid: str


@dataclass(slots=True)
class Ended:
    """What ending some sessions produced: deliveries to make and iframes to render."""

    session_ids: list[uuid.UUID] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    frontchannel: list[FrontChannelTarget] = field(default_factory=list)


async def end_sessions(
    session: AsyncSession,
    ctx: Context,
    records: list[BrowserSession],
    *,
    reason: str,
    actor: str,
    claim: bool,
) -> Ended:
    now = ctx.clock.now()
    ended = Ended()
    for live in records:
        # The guarded update makes ending idempotent and race-free: only one caller wins.
        won = await session.execute(
            update(BrowserSession)
            .where(BrowserSession.id == live.id, BrowserSession.ended_at.is_(None))
            .values(ended_at=now, ended_reason=reason)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue
        ended.session_ids.append(live.id)
    if not ended.session_ids:
        return ended
    await _revoke_session_grants(session, ctx, ended.session_ids, now)
    rows = (
        await session.execute(
            # Columns only: ORM entities for hundreds of clients cost more than the query.
            select(
                BrowserSession.id,
                BrowserSession.sid,
                Account.sub,
                Client.client_id,
                Client.backchannel_logout_uri,
                Client.frontchannel_logout_uri,
                Client.frontchannel_logout_session_required,
                Client.id_token_signed_response_alg,
            )
            .join(SessionClient, SessionClient.session_id == BrowserSession.id)
            .join(Client, Client.client_id == SessionClient.client_id)
            .join(Account, Account.id == BrowserSession.account_id)
            .where(BrowserSession.id.in_(ended.session_ids))
        )
    ).all()
    for row in rows:
        if row.backchannel_logout_uri:
            ended.jobs.append(
                outbox.enqueue(
                    session,
                    session_id=row.id,
                    client_id=row.client_id,
                    uri=row.backchannel_logout_uri,
                    sub=row.sub,
                    sid=row.sid,
                    alg=row.id_token_signed_response_alg,
                    now=now,
                    settings=ctx.settings.logout,
                    claim=claim,
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


async def _revoke_session_grants(
    session: AsyncSession, ctx: Context, session_ids: list[uuid.UUID], now: datetime
) -> None:
    conditions = [Grant.session_id.in_(session_ids), Grant.revoked_at.is_(None)]
    if not ctx.settings.logout.revoke_offline_access:
        # Offline access is meant to outlive the login session (OIDC Core §11).
        conditions.append(Grant.scope.not_like("%offline_access%"))
    await session.execute(
        update(Grant).where(*conditions).values(revoked_at=now, revoked_reason="logout")
    )


async def live_sessions_of(
    session: AsyncSession, account_id: uuid.UUID, now: datetime, idle_ttl: int
) -> list[BrowserSession]:
    stmt = (
        select(BrowserSession)
        .where(
            BrowserSession.account_id == account_id,
            BrowserSession.ended_at.is_(None),
            BrowserSession.expires_at > now,
            BrowserSession.last_seen_at > now - timedelta(seconds=idle_ttl),
        )
        .order_by(BrowserSession.last_seen_at.desc())
    )
    return list((await session.scalars(stmt)).all())


async def expired_sessions(
    session: AsyncSession, now: datetime, idle_ttl: int, limit: int
) -> list[BrowserSession]:
    stmt = (
        select(BrowserSession)
        .where(
            BrowserSession.ended_at.is_(None),
            or_(
                BrowserSession.expires_at <= now,
                BrowserSession.last_seen_at <= now - timedelta(seconds=idle_ttl),
            ),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())
