"""The SQL of confirming with a qualified e-signature: the account row, the challenges."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Account, BrowserSession, SignatureChallenge
from idp.levels.account_lock import lock_active_account


@dataclass(frozen=True, slots=True)
class Claimed:
    content: str
    issued_at: datetime
    claimed_at: datetime  # the challenge's used_at as this claim set it


class QesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_account(self, account_id: uuid.UUID) -> Account | None:
        """The active account, its row locked until the transaction ends (``FOR UPDATE`` on
        PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers already)."""
        return await lock_active_account(self._session, account_id)

    async def account(self, account_id: uuid.UUID) -> Account | None:
        return await self._session.get(Account, account_id)

    def add(self, challenge: SignatureChallenge) -> None:
        self._session.add(challenge)

    async def end_unused(self, account_id: uuid.UUID, purpose: str, now: datetime) -> None:
        """The account's challenges of ``purpose`` with no outcome yet expire now: only the
        newest one may be signed. One being verified is among them: should its claim be
        undone (``release``), it stays ended."""
        await self._session.execute(
            update(SignatureChallenge)
            .where(
                SignatureChallenge.account_id == account_id,
                SignatureChallenge.purpose == purpose,
                SignatureChallenge.outcome.is_(None),
                SignatureChallenge.expires_at > now,
            )
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )

    async def claim(
        self, challenge_id: uuid.UUID, account_id: uuid.UUID, purpose: str, now: datetime
    ) -> Claimed | None:
        """Mark the challenge used, if it is this account's, unused and unexpired; its text.
        One statement: of any number of submits at once, exactly one gets it."""
        row = (
            await self._session.execute(
                update(SignatureChallenge)
                .where(
                    SignatureChallenge.id == challenge_id,
                    SignatureChallenge.account_id == account_id,
                    SignatureChallenge.purpose == purpose,
                    SignatureChallenge.used_at.is_(None),
                    SignatureChallenge.outcome.is_(None),  # an outcome is final
                    SignatureChallenge.expires_at > now,
                )
                .values(used_at=now)
                .returning(SignatureChallenge.content, SignatureChallenge.issued_at)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return None if row is None else Claimed(row[0], row[1], now)

    async def release(self, challenge_id: uuid.UUID, claimed: Claimed) -> bool:
        """Undo this claim: the challenge unused again, if its ``used_at`` is still the one the
        claim set and it has no outcome (nothing else can have claimed it meanwhile: the
        claim excludes every other). Whether it was undone."""
        result = await self._session.execute(
            update(SignatureChallenge)
            .where(
                SignatureChallenge.id == challenge_id,
                SignatureChallenge.used_at == claimed.claimed_at,
                SignatureChallenge.outcome.is_(None),
            )
            .values(used_at=None)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def find(
        self, challenge_id: uuid.UUID, account_id: uuid.UUID
    ) -> SignatureChallenge | None:
        return (
            await self._session.scalars(
                select(SignatureChallenge).where(
                    SignatureChallenge.id == challenge_id,
                    SignatureChallenge.account_id == account_id,
                )
            )
        ).first()

    async def record_outcome(
        self, challenge_id: uuid.UUID, outcome: str, fingerprint: str | None
    ) -> None:
        """Keep the claimed challenge's outcome; written once (an ``error`` kept after a
        commit whose answer was lost does not replace what it committed)."""
        await self._session.execute(
            update(SignatureChallenge)
            .where(SignatureChallenge.id == challenge_id, SignatureChallenge.outcome.is_(None))
            .values(outcome=outcome[:32], certificate_fingerprint=fingerprint)
            .execution_options(synchronize_session=False)
        )

    async def browser_session(self, session_id: uuid.UUID) -> BrowserSession | None:
        return await self._session.get(BrowserSession, session_id, populate_existing=True)
