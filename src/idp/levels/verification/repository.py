"""SQL of the registry checks: every state change a guarded UPDATE (the expected state and the
current revision of the person's data), counted by its row count."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from idp.db.models import Account, PersonalData, QueuedJob, RegistryCheck
from idp.levels.verification.rounds import OPEN_STATES


class CheckRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def savepoint(self) -> AsyncSessionTransaction:
        return self._session.begin_nested()

    async def check(self, check_id: uuid.UUID) -> RegistryCheck | None:
        return await self._session.get(RegistryCheck, check_id, populate_existing=True)

    async def poll_view(
        self, check_id: uuid.UUID
    ) -> tuple[RegistryCheck, str | None, int | None] | None:
        """The check with its account's status and its data's current revision (None when
        gone), in one SELECT that opens nothing sealed: what every try of a job needs."""
        row = (
            await self._session.execute(
                select(RegistryCheck, Account.status, PersonalData.revision)
                .outerjoin(Account, Account.id == RegistryCheck.account_id)
                .outerjoin(PersonalData, PersonalData.account_id == RegistryCheck.account_id)
                .where(RegistryCheck.id == check_id)
                .execution_options(populate_existing=True)
            )
        ).first()
        if row is None:
            return None
        check, status, revision = row
        return check, status, revision

    async def current_revision(self, account_id: uuid.UUID) -> int | None:
        return await self._session.scalar(
            select(PersonalData.revision).where(PersonalData.account_id == account_id)
        )

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
        """Change the check if it is still in one of ``from_states``, still has the job it had
        when ``check`` was read (a re-armed check belongs to its new job) and its revision is
        still the data's current one; False (nothing written) otherwise."""
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
                _same_job(check.job_id),
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

    # --- operators -----------------------------------------------------------------------------

    async def listing(
        self,
        *,
        states: Sequence[str] | None = None,
        account_id: uuid.UUID | None = None,
        stuck: bool = False,
        limit: int = 100,
    ) -> list[tuple[RegistryCheck, str, QueuedJob | None]]:
        """Checks newest first, with their account's ``sub`` and their job (if it still
        exists); ``stuck``: only open checks whose job is settled or gone (``_STUCK``)."""
        stmt = (
            select(RegistryCheck, Account.sub, QueuedJob)
            .join(Account, Account.id == RegistryCheck.account_id)
            .outerjoin(QueuedJob, QueuedJob.id == RegistryCheck.job_id)
            .order_by(RegistryCheck.created_at.desc(), RegistryCheck.id.desc())
            .limit(limit)
        )
        if states:
            stmt = stmt.where(RegistryCheck.state.in_(states))
        if account_id is not None:
            stmt = stmt.where(RegistryCheck.account_id == account_id)
        if stuck:
            stmt = stmt.where(RegistryCheck.state.in_(OPEN_STATES), _STUCK)
        rows = await self._session.execute(stmt)
        return [(check, sub, job) for check, sub, job in rows]

    async def stuck(
        self, *, after: tuple[datetime, uuid.UUID] | None = None, limit: int = 1000
    ) -> list[RegistryCheck]:
        """Open checks whose job is settled (failed, expired, or even done) or gone: nothing
        will move them any more. Oldest first, from after ``after`` (created_at, id): page
        through them all."""
        stmt = (
            select(RegistryCheck)
            .outerjoin(QueuedJob, QueuedJob.id == RegistryCheck.job_id)
            .where(RegistryCheck.state.in_(OPEN_STATES), _STUCK)
            .order_by(RegistryCheck.created_at, RegistryCheck.id)
            .limit(limit)
        )
        if after is not None:
            created_at, check_id = after
            stmt = stmt.where(
                (RegistryCheck.created_at > created_at)
                | ((RegistryCheck.created_at == created_at) & (RegistryCheck.id > check_id))
            )
        return list(await self._session.scalars(stmt))

    async def lock_round(self, account_id: uuid.UUID, revision: int) -> list[RegistryCheck]:
        """The checks of one revision, locked until the transaction ends (FOR UPDATE on
        PostgreSQL; BEGIN IMMEDIATE serialises SQLite's writers)."""
        rows = await self._session.scalars(
            select(RegistryCheck)
            .where(RegistryCheck.account_id == account_id, RegistryCheck.revision == revision)
            .order_by(RegistryCheck.kind)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def job_statuses(self, job_ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, str]:
        wanted = [i for i in job_ids if i is not None]
        if not wanted:
            return {}
        rows = await self._session.execute(
            select(QueuedJob.id, QueuedJob.status).where(QueuedJob.id.in_(wanted))
        )
        return {row.id: row.status for row in rows}

    async def rearm(self, check: RegistryCheck, *, new_job_id: uuid.UUID, now: datetime) -> bool:
        """Point a check at a fresh job, back to queued with a new series of tries
        (``armed_at``), if nobody did meanwhile: it is still in the state and has the job
        ``check`` was read with. The reference goes (the submit runs again under the same
        idempotency key, the check's id, so a registry that took it answers the same
        reference); so do the reason, the fields and the finish."""
        result = await self._session.execute(
            update(RegistryCheck)
            .where(
                RegistryCheck.id == check.id,
                RegistryCheck.state == check.state,
                _same_job(check.job_id),
            )
            .values(
                state="queued",
                job_id=new_job_id,
                reason=None,
                fields=None,
                reference=None,
                finished_at=None,
                armed_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def discard_job(self, job_id: uuid.UUID) -> None:
        """Take back a job this transaction enqueued for a re-arm that lost its race."""
        for pending in list(self._session.new):
            if isinstance(pending, QueuedJob) and pending.id == job_id:
                self._session.expunge(pending)
                return
        await self._session.execute(delete(QueuedJob).where(QueuedJob.id == job_id))

    async def lock_check(self, check_id: uuid.UUID) -> RegistryCheck | None:
        return await self._session.get(
            RegistryCheck, check_id, with_for_update=True, populate_existing=True
        )

    async def job_status(self, job_id: uuid.UUID | None) -> str | None:
        if job_id is None:
            return None
        return await self._session.scalar(select(QueuedJob.status).where(QueuedJob.id == job_id))


# An open check whose job is settled (failed, expired, done) or gone: nothing will move it.
_STUCK = QueuedJob.id.is_(None) | QueuedJob.status.in_(("failed", "done"))


def _same_job(job_id: uuid.UUID | None) -> Any:
    return RegistryCheck.job_id.is_(None) if job_id is None else RegistryCheck.job_id == job_id
