"""SQL of the registry checks: every state change a guarded UPDATE (the expected state and the
current revision of the person's data), counted by its row count."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from idp.db.models import Account, Contact, PersonalData, QueuedJob, RegistryCheck
from idp.levels.verification.rounds import OPEN_STATES


class CheckRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def savepoint(self) -> AsyncSessionTransaction:
        return self._session.begin_nested()

    async def check(self, check_id: uuid.UUID) -> RegistryCheck | None:
        return await self._session.get(RegistryCheck, check_id, populate_existing=True)

    async def personal_data(self, account_id: uuid.UUID) -> PersonalData | None:
        return await self._session.get(PersonalData, account_id, populate_existing=True)

    async def account(self, account_id: uuid.UUID) -> Account | None:
        return await self._session.get(Account, account_id, populate_existing=True)

    async def lock_account(self, account_id: uuid.UUID) -> Account | None:
        """The account row, locked until the transaction ends (SELECT … FOR UPDATE on
        PostgreSQL; on SQLite the transaction's BEGIN IMMEDIATE already serialises writers):
        two checks of one round settling at once count the round's open checks one after
        the other."""
        return await self._session.get(
            Account, account_id, with_for_update=True, populate_existing=True
        )

    async def move(
        self,
        check: RegistryCheck,
        *,
        from_states: Sequence[str],
        now: datetime,
        **values: Any,
    ) -> bool:
        """Change the check if it is still in one of ``from_states`` and its revision is still
        the data's current one; False (nothing written) otherwise."""
        current = (
            select(PersonalData.revision)
            .where(PersonalData.account_id == RegistryCheck.account_id)
            .scalar_subquery()
        )
        result = await self._session.execute(
            update(RegistryCheck)
            .where(
                RegistryCheck.id == check.id,
                RegistryCheck.state.in_(from_states),
                RegistryCheck.revision == current,
            )
            .values(updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def supersede(self, check: RegistryCheck, *, now: datetime) -> bool:
        """Settle an open check of a revision that is no longer current."""
        result = await self._session.execute(
            update(RegistryCheck)
            .where(RegistryCheck.id == check.id, RegistryCheck.state.in_(OPEN_STATES))
            .values(state="superseded", updated_at=now, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def round(self, account_id: uuid.UUID, revision: int) -> list[RegistryCheck]:
        rows = await self._session.scalars(
            select(RegistryCheck)
            .where(RegistryCheck.account_id == account_id, RegistryCheck.revision == revision)
            .order_by(RegistryCheck.kind)
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def open_in_round(self, account_id: uuid.UUID, revision: int) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(RegistryCheck)
            .where(
                RegistryCheck.account_id == account_id,
                RegistryCheck.revision == revision,
                RegistryCheck.state.in_(OPEN_STATES),
            )
        )
        return int(count or 0)

    async def set_verified_snils(self, account_id: uuid.UUID, sealed: bytes, index: str) -> None:
        """Raises IntegrityError when another account holds this SNILS (call it inside a
        savepoint)."""
        await self._session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(snils_enc=sealed, snils_bidx=index)
            .execution_options(synchronize_session=False)
        )

    async def fail_settled(self, check_id: uuid.UUID, *, reason: str, now: datetime) -> None:
        """Turn a check this transaction just settled into a failure (``snils_taken``)."""
        await self._session.execute(
            update(RegistryCheck)
            .where(RegistryCheck.id == check_id)
            .values(state="failed", reason=reason, fields=None, updated_at=now, finished_at=now)
            .execution_options(synchronize_session=False)
        )

    async def confirmed_contacts(self, account_id: uuid.UUID) -> list[Contact]:
        rows = await self._session.scalars(
            select(Contact)
            .where(Contact.account_id == account_id, Contact.confirmed_at.is_not(None))
            .order_by(Contact.kind, Contact.created_at)
        )
        return list(rows)

    # --- operators -----------------------------------------------------------------------------

    async def listing(
        self,
        *,
        states: Sequence[str] | None = None,
        account_id: uuid.UUID | None = None,
        limit: int = 100,
    ) -> list[tuple[RegistryCheck, str, QueuedJob | None]]:
        """Checks newest first, with their account's ``sub`` and their job (if it still
        exists)."""
        stmt = (
            select(RegistryCheck, Account.sub, QueuedJob)
            .join(Account, Account.id == RegistryCheck.account_id)
            .outerjoin(QueuedJob, QueuedJob.id == RegistryCheck.job_id)
            .order_by(RegistryCheck.created_at.desc(), RegistryCheck.id)
            .limit(limit)
        )
        if states:
            stmt = stmt.where(RegistryCheck.state.in_(states))
        if account_id is not None:
            stmt = stmt.where(RegistryCheck.account_id == account_id)
        rows = await self._session.execute(stmt)
        return [(check, sub, job) for check, sub, job in rows]

    async def stuck(self, *, limit: int = 100_000) -> list[RegistryCheck]:
        """Open checks whose job is settled (failed, expired, or even done) or gone: nothing
        will move them any more."""
        stmt = (
            select(RegistryCheck)
            .outerjoin(QueuedJob, QueuedJob.id == RegistryCheck.job_id)
            .where(
                RegistryCheck.state.in_(OPEN_STATES),
                QueuedJob.id.is_(None) | QueuedJob.status.in_(("failed", "done")),
            )
            .order_by(RegistryCheck.created_at)
            .limit(limit)
        )
        return list(await self._session.scalars(stmt))

    async def rearm(
        self,
        check_id: uuid.UUID,
        *,
        old_job_id: uuid.UUID | None,
        new_job_id: uuid.UUID,
        now: datetime,
    ) -> bool:
        """Point a stuck check at a fresh job, back to queued, if nobody did meanwhile (the
        job it had is still the one it has, and it is still open)."""
        job_matches = (
            RegistryCheck.job_id.is_(None)
            if old_job_id is None
            else RegistryCheck.job_id == old_job_id
        )
        result = await self._session.execute(
            update(RegistryCheck)
            .where(
                RegistryCheck.id == check_id,
                RegistryCheck.state.in_(OPEN_STATES),
                job_matches,
            )
            .values(state="queued", job_id=new_job_id, reason=None, fields=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def lock_check(self, check_id: uuid.UUID) -> RegistryCheck | None:
        return await self._session.get(
            RegistryCheck, check_id, with_for_update=True, populate_existing=True
        )

    async def job_status(self, job_id: uuid.UUID | None) -> str | None:
        if job_id is None:
            return None
        return await self._session.scalar(select(QueuedJob.status).where(QueuedJob.id == job_id))
