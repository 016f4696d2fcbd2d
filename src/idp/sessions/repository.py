from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Account, BrowserSession, Client, Grant, SessionClient


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_live(
        self, token_hash: str, now: datetime
    ) -> tuple[BrowserSession, Account] | None:
        stmt = (
            select(BrowserSession, Account)
            .join(Account, Account.id == BrowserSession.account_id)
            .where(
                BrowserSession.token_hash == token_hash,
                BrowserSession.ended_at.is_(None),
                BrowserSession.expires_at > now,
            )
        )
        row = (await self._session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    def add(self, record: BrowserSession) -> None:
        self._session.add(record)

    async def touch(self, session_id: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            update(BrowserSession).where(BrowserSession.id == session_id).values(last_seen_at=now)
        )

    async def hold_live(
        self, session_id: uuid.UUID, now: datetime, idle_ttl: int, *, touch: bool
    ) -> bool:
        """Lock the session's row if it is still live (not ended, not past either limit) and,
        with ``touch``, count ``now`` as activity. A logout that races this waits for our
        commit and then sees what we wrote (and we see its end if it came first)."""
        last_seen = BrowserSession.last_seen_at
        held = await self._session.execute(
            update(BrowserSession)
            .where(
                BrowserSession.id == session_id,
                BrowserSession.ended_at.is_(None),
                BrowserSession.expires_at > now,
                last_seen > now - timedelta(seconds=idle_ttl),
            )
            .values(
                last_seen_at=case((last_seen < now, now), else_=last_seen) if touch else last_seen
            )
            .execution_options(synchronize_session=False)
        )
        return bool(held.rowcount == 1)  # type: ignore[attr-defined]

    async def renew(
        self,
        session_id: uuid.UUID,
        *,
        token_hash: str,
        auth_time: datetime,
        amr: list[str],
        acr: str,
        expires_at: datetime,
        seen_at: datetime,
    ) -> bool:
        """A new cookie (and the login time given) for a session still live; False if it ended
        meanwhile."""
        renewed = await self._session.execute(
            update(BrowserSession)
            .where(BrowserSession.id == session_id, BrowserSession.ended_at.is_(None))
            .values(
                token_hash=token_hash,
                auth_time=auth_time,
                amr=amr,
                acr=acr,
                last_seen_at=seen_at,
                expires_at=expires_at,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]

    async def add_participant(self, session_id: uuid.UUID, client_id: str, now: datetime) -> None:
        values = {"session_id": session_id, "client_id": client_id, "first_at": now}
        dialect = self._session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(SessionClient).values(**values).on_conflict_do_nothing()
        await self._session.execute(stmt)

    async def mark_ended(self, session_id: uuid.UUID, now: datetime, reason: str) -> bool:
        """End one session; False when it had already ended (another caller won)."""
        won = await self._session.execute(
            update(BrowserSession)
            .where(BrowserSession.id == session_id, BrowserSession.ended_at.is_(None))
            .values(ended_at=now, ended_reason=reason)
        )
        return bool(won.rowcount == 1)  # type: ignore[attr-defined]

    async def revoke_grants(
        self, session_ids: list[uuid.UUID], now: datetime, *, keep_offline_access: bool
    ) -> None:
        conditions = [Grant.session_id.in_(session_ids), Grant.revoked_at.is_(None)]
        if keep_offline_access:
            conditions.append(Grant.scope.not_like("%offline_access%"))
        await self._session.execute(
            update(Grant).where(*conditions).values(revoked_at=now, revoked_reason="logout")
        )

    async def revoke_offline_grants(self, account_id: uuid.UUID, now: datetime, reason: str) -> int:
        revoked = await self._session.execute(
            update(Grant)
            .where(
                Grant.account_id == account_id,
                Grant.revoked_at.is_(None),
                Grant.scope.like("%offline_access%"),
            )
            .values(revoked_at=now, revoked_reason=reason)
        )
        return int(revoked.rowcount)  # type: ignore[attr-defined]

    async def participants(self, session_ids: list[uuid.UUID]) -> Sequence[Any]:
        """Each (session, client) pair with what logging the client out needs."""
        stmt = (
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
            .where(BrowserSession.id.in_(session_ids))
        )
        return (await self._session.execute(stmt)).all()

    async def service_names(self, session_id: uuid.UUID) -> list[str]:
        """The names of the clients that received tokens in this session, A to Z."""
        stmt = (
            select(Client.name)
            .join(SessionClient, SessionClient.client_id == Client.client_id)
            .where(SessionClient.session_id == session_id)
            .order_by(Client.name)
        )
        return list((await self._session.scalars(stmt)).all())

    async def live_of(
        self, account_id: uuid.UUID, now: datetime, idle_ttl: int
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
        return list((await self._session.scalars(stmt)).all())

    async def expired(self, now: datetime, idle_ttl: int, limit: int) -> list[BrowserSession]:
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
        return list((await self._session.scalars(stmt)).all())
