"""A round of registry checks: every check one revision of a person's data needs, started in the
transaction that saved it (the checks and their jobs exist exactly when the data does)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import RegistryCheck
from idp.jobs.queue import JobRef, enqueue
from idp.levels.verifiers.protocol import CheckKind
from idp.settings import RegistriesSettings

REGISTRY_CHECK = "registry_check"  # the job kind

QUEUED, SENT, WAITING = "queued", "sent", "waiting"
SUCCEEDED, FAILED, SUPERSEDED = "succeeded", "failed", "superseded"
OPEN_STATES = (QUEUED, SENT, WAITING)
FINAL_STATES = (SUCCEEDED, FAILED, SUPERSEDED)

# The reason an account with this data cannot earn the standard level at all.
FOREIGN_WITHOUT_SNILS = "foreign_without_snils"


@dataclass(frozen=True, slots=True)
class Needed:
    """Which checks one revision of the data needs; ``none_because`` when it can earn nothing."""

    kinds: tuple[CheckKind, ...]
    none_because: str | None = None


def needed_checks(*, citizenship: str, snils: str | None, inn: str | None) -> Needed:
    """The pension fund for the SNILS, the interior ministry for the document, the tax service
    for the INN when one is given. A foreign citizen without a SNILS has nothing the pension
    fund could confirm, so no check can make the account standard."""
    if snils is None:
        if citizenship != "RUS":
            return Needed((), FOREIGN_WITHOUT_SNILS)
        raise ValueError("a Russian citizen's data without a SNILS is refused before this")
    kinds = [CheckKind.PERSON, CheckKind.DOCUMENT]
    if inn is not None:
        kinds.append(CheckKind.INN)
    return Needed(tuple(kinds))


async def supersede_open(
    session: AsyncSession, account_id: uuid.UUID, *, before_revision: int, at: datetime
) -> int:
    """Settle the unfinished checks of older revisions as superseded: their answers no longer
    count (their jobs see the state and stop)."""
    result = await session.execute(
        update(RegistryCheck)
        .where(
            RegistryCheck.account_id == account_id,
            RegistryCheck.revision < before_revision,
            RegistryCheck.state.in_(OPEN_STATES),
        )
        .values(state=SUPERSEDED, updated_at=at, finished_at=at)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def job_deadline(settings: RegistriesSettings) -> float:
    """How long a check's job lives: the handler caps every wait at the end of the check's
    ``retry_period`` (from ``armed_at``), so the try that settles ``registry_timeout`` runs
    before the deadline even after a lease lost to a dead worker (twice), a backoff after a
    registry error and one longest answer wait."""
    return (
        settings.retry_period + 2 * settings.lease + settings.backoff_max + settings.answer_wait_max
    )


def start_round(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    revision: int,
    kinds: Iterable[CheckKind],
    verifier_names: dict[CheckKind, str],
    settings: RegistriesSettings,
    at: datetime,
) -> list[JobRef]:
    """Add a queued check and its ``registry_check`` job per kind to the caller's transaction.
    Call ``supersede_open`` first. The job's deadline (``job_deadline``) leaves the handler time
    to settle a check whose registry never answered (``registry_timeout``) after
    ``retry_period``."""
    jobs = []
    for kind in kinds:
        check_id = uuid.uuid4()
        job = enqueue(
            session,
            REGISTRY_CHECK,
            {"check": str(check_id)},
            deadline_in=job_deadline(settings),
            ref=kind.value,
        )
        session.add(
            RegistryCheck(
                id=check_id,
                account_id=account_id,
                revision=revision,
                kind=kind.value,
                state=QUEUED,
                verifier=verifier_names[kind],
                attempts=0,
                job_id=job.id,
                created_at=at,
                armed_at=at,
                updated_at=at,
            )
        )
        jobs.append(job)
    return jobs
